// Peer of bench/parked.c: N goroutines parked on a WaitGroup; RSS per
// goroutine (and MemStats.Sys per goroutine, Go's own accounting).
package main

import (
	"fmt"
	"gortbench/benchutil"
	"os"
	"runtime"
	"strconv"
	"sync"
)

func rss() int64 { return status("VmRSS:") }

func status(field string) int64 { return benchutil.StatusBytes(field) }

func main() {
	n := 1000000
	if len(os.Args) > 1 {
		n, _ = strconv.Atoi(os.Args[1])
	}
	var ms0, ms1 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	r0, p0 := rss(), status("VmPTE:")
	var started, gate, done sync.WaitGroup
	gate.Add(1)
	started.Add(n)
	done.Add(n)
	for i := 0; i < n; i++ {
		go func() {
			started.Done()
			gate.Wait()
			done.Done()
		}()
	}
	started.Wait()
	r1, p1 := rss(), status("VmPTE:")
	runtime.ReadMemStats(&ms1)
	gate.Done()
	done.Wait()
	fmt.Printf("RESULT parked_rss_bytes_per_goroutine %.1f B\n", float64(r1-r0)/float64(n))
	fmt.Printf("RESULT parked_pte_bytes_per_goroutine %.1f B\n", float64(p1-p0)/float64(n))
	fmt.Printf("RESULT parked_sys_bytes_per_goroutine %.1f B\n", float64(ms1.Sys-ms0.Sys)/float64(n))
}
