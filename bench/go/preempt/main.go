// Peer of bench/preempt.c: with GOMAXPROCS=1 a goroutine spins in a loop
// that calls nothing; main sleeps 1 ms N times and measures how late it
// wakes. Prints the worst and the median lateness.
package main

import (
	"fmt"
	"os"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

var stop int32
var spins int64

func main() {
	n := 100
	if len(os.Args) > 1 {
		n, _ = strconv.Atoi(os.Args[1])
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		for atomic.LoadInt32(&stop) == 0 {
			spins++
		}
		wg.Done()
	}()
	late := make([]float64, n)
	for i := 0; i < n; i++ {
		t0 := time.Now()
		time.Sleep(time.Millisecond)
		late[i] = float64(time.Since(t0)-time.Millisecond) / 1e6
	}
	atomic.StoreInt32(&stop, 1)
	wg.Wait()
	sort.Float64s(late)
	fmt.Printf("RESULT preempt_max_ms %.1f ms\n", late[n-1])
	fmt.Printf("RESULT preempt_median_ms %.2f ms\n", late[n/2])
}
