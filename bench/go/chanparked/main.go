// Peer of bench/chanparked.c: N goroutines parked on one channel receive,
// released by close.
package main

import (
	"fmt"
	"gortbench/benchutil"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

func rss() int64 { return status("VmRSS:") }

func status(field string) int64 { return benchutil.StatusBytes(field) }

func main() {
	n := 1000000
	if len(os.Args) > 1 {
		n, _ = strconv.Atoi(os.Args[1])
	}
	gate := make(chan struct{})
	var started, done sync.WaitGroup
	var released int64
	r0, p0 := rss(), status("VmPTE:")
	started.Add(n)
	done.Add(n)
	for i := 0; i < n; i++ {
		go func() {
			started.Done()
			if _, ok := <-gate; !ok {
				atomic.AddInt64(&released, 1)
			}
			done.Done()
		}()
	}
	started.Wait()
	time.Sleep(time.Millisecond)
	r1, p1 := rss(), status("VmPTE:")
	t0 := time.Now()
	close(gate)
	done.Wait()
	el := time.Since(t0)
	if released != int64(n) {
		fmt.Println("not all released")
		os.Exit(1)
	}
	fmt.Printf("RESULT chanparked_rss_bytes_per_goroutine %.1f B\n", float64(r1-r0)/float64(n))
	fmt.Printf("RESULT chanparked_pte_bytes_per_goroutine %.1f B\n", float64(p1-p0)/float64(n))
	fmt.Printf("RESULT chanparked_release_ns_per_goroutine %.1f ns\n", float64(el.Nanoseconds())/float64(n))
}
