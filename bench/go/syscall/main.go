// Peer of bench/syscall.c: the cost of a cheap system call made the way Go
// makes them (syscall.Getppid: entersyscall + the call + exitsyscall), ns
// per call, next to the bare call.
package main

import (
	"fmt"
	"os"
	"strconv"
	"syscall"
	"time"
)

func main() {
	n := 2000000
	if len(os.Args) > 1 {
		n, _ = strconv.Atoi(os.Args[1])
	}
	t0 := time.Now()
	for i := 0; i < n; i++ {
		syscall.Getppid()
	}
	el := time.Since(t0)
	fmt.Printf("RESULT syscall_ns_per_call %.1f ns\n", float64(el.Nanoseconds())/float64(n))
	t0 = time.Now()
	for i := 0; i < n; i++ {
		syscall.RawSyscall(syscall.SYS_GETPPID, 0, 0, 0)
	}
	el = time.Since(t0)
	fmt.Printf("RESULT syscall_raw_ns_per_call %.1f ns\n", float64(el.Nanoseconds())/float64(n))
}
