// Peer of bench/stw.c: one spinner per P in a loop that calls nothing, then
// main changes GOMAXPROCS between n-1 and n, N times (each change stops the
// world). Prints the median and worst time of one runtime.GOMAXPROCS call
// (also for the changes down and up apart) and the whole run's wall time.
package main

import (
	"fmt"
	"os"
	"runtime"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

var stop int32
var spins [256]int64

func main() {
	start := time.Now()
	n := 200
	if len(os.Args) > 1 {
		n, _ = strconv.Atoi(os.Args[1])
	}
	procs := runtime.GOMAXPROCS(0)
	if procs < 2 {
		procs = 2
		runtime.GOMAXPROCS(procs)
	}
	var wg sync.WaitGroup
	wg.Add(procs)
	for i := 0; i < procs; i++ {
		go func(i int) {
			for atomic.LoadInt32(&stop) == 0 {
				spins[i&255]++
			}
			wg.Done()
		}(i)
	}
	time.Sleep(20 * time.Millisecond)
	t := make([]float64, n)
	for i := 0; i < n; i++ {
		p := procs
		if i%2 == 0 {
			p = procs - 1
		}
		t0 := time.Now()
		runtime.GOMAXPROCS(p)
		t[i] = float64(time.Since(t0)) / 1e3
		time.Sleep(time.Millisecond)
	}
	atomic.StoreInt32(&stop, 1)
	wg.Wait()
	var dn, up []float64
	for i := range t {
		if i%2 == 0 {
			dn = append(dn, t[i])
		} else {
			up = append(up, t[i])
		}
	}
	sort.Float64s(t)
	sort.Float64s(dn)
	sort.Float64s(up)
	fmt.Printf("RESULT stw_median_us %.1f us\n", t[n/2])
	fmt.Printf("RESULT stw_max_us %.1f us\n", t[n-1])
	fmt.Printf("RESULT stw_down_median_us %.1f us\n", dn[len(dn)/2])
	fmt.Printf("RESULT stw_down_max_us %.1f us\n", dn[len(dn)-1])
	fmt.Printf("RESULT stw_up_median_us %.1f us\n", up[len(up)/2])
	fmt.Printf("RESULT stw_up_max_us %.1f us\n", up[len(up)-1])
	fmt.Printf("RESULT stw_wall_ms %.1f ms\n", float64(time.Since(start))/1e6)
}
