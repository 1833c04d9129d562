// Peer of bench/idle.c: the process's CPU time while main sleeps N seconds
// (default 10), as a percentage of one core.
package main

import (
	"fmt"
	"os"
	"strconv"
	"syscall"
	"time"
)

func cpu() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return float64(ru.Utime.Sec+ru.Stime.Sec) + float64(ru.Utime.Usec+ru.Stime.Usec)/1e6
}

func main() {
	secs := 10
	if len(os.Args) > 1 {
		secs, _ = strconv.Atoi(os.Args[1])
	}
	time.Sleep(100 * time.Millisecond)
	c0, t0 := cpu(), time.Now()
	time.Sleep(time.Duration(secs) * time.Second)
	c1 := cpu()
	fmt.Printf("RESULT idle_cpu_percent %.4f %%\n", (c1-c0)/time.Since(t0).Seconds()*100)
}
