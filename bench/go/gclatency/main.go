// Peer of bench/gclatency.c: a goroutine sleeps 1 ms in a loop and records
// how late each wake-up is, while 4 goroutines churn a heap with a fixed
// amount live. The same program, the same RESULT lines.
//
//	gclatency [live_mb] [secs]   500 MB live, 10 s by default
//
// The slot array is a global []unsafe.Pointer of live_mb MiB / 1120 slots;
// each points to the first word of a []unsafe.Pointer of 64..2048 bytes
// (all scanned, as gort scans a gort_alloc'd object), whose word 0 points to
// a 64-byte child and word 1 into its own middle. Churners replace random
// slots and call runtime.Gosched every 100 replacements, as gclatency.c
// yields; the main goroutine measures the ticks; numgc counts the cycles
// during the measured window.
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
	"unsafe"
)

const (
	nchurn     = 4
	yieldEvery = 100
	childBytes = 64
	slotBytes  = 1120
	tick       = time.Millisecond
)

var (
	slots []unsafe.Pointer
	stop  int32
)

func rnd(s *uint64) uint64 { // xorshift64*, as in gclatency.c
	x := *s
	x ^= x >> 12
	x ^= x << 25
	x ^= x >> 27
	*s = x
	return x * 0x2545F4914F6CDD1D
}

func newObject(r uint64) unsafe.Pointer {
	words := (64 + 8*(r%249)) / 8 // 64..2048 bytes
	o := make([]unsafe.Pointer, words)
	c := make([]unsafe.Pointer, childBytes/8)
	o[0] = unsafe.Pointer(&c[0])
	o[1] = unsafe.Pointer(&o[words/2])
	return unsafe.Pointer(&o[0])
}

func churner(id int, wg *sync.WaitGroup) {
	seed := 0x9E3779B97F4A7C15 * uint64(id+1)
	n := uint64(len(slots))
	for k := 1; atomic.LoadInt32(&stop) == 0; k++ {
		r := rnd(&seed)
		slots[(r>>32)%n] = newObject(r & 0xffffffff)
		if k%yieldEvery == 0 {
			runtime.Gosched()
		}
	}
	wg.Done()
}

func main() {
	mb, secs := 500.0, 10.0
	if len(os.Args) > 1 {
		mb, _ = strconv.ParseFloat(os.Args[1], 64)
	}
	if len(os.Args) > 2 {
		secs, _ = strconv.ParseFloat(os.Args[2], 64)
	}
	nslots := int(mb * 1048576 / slotBytes)
	if nslots < 1 || secs <= 0 {
		fmt.Fprintln(os.Stderr, "usage: gclatency [live_mb] [secs]")
		os.Exit(2)
	}
	var ms runtime.MemStats

	slots = make([]unsafe.Pointer, nslots)
	seed := uint64(88172645463325252)
	for i := range slots {
		slots[i] = newObject(rnd(&seed) & 0xffffffff)
	}
	runtime.ReadMemStats(&ms)
	heapMB := float64(ms.HeapAlloc) / 1048576

	maxTicks := int(secs*1e9/float64(tick)) + 1
	late := make([]time.Duration, 0, maxTicks)
	var wg sync.WaitGroup
	wg.Add(nchurn)
	for c := 0; c < nchurn; c++ {
		go churner(c, &wg)
	}

	runtime.ReadMemStats(&ms)
	gc0 := ms.NumGC
	end := time.Now().Add(time.Duration(secs * 1e9))
	for len(late) < maxTicks {
		t0 := time.Now()
		if !t0.Before(end) {
			break
		}
		time.Sleep(tick)
		late = append(late, time.Since(t0)-tick)
	}
	runtime.ReadMemStats(&ms)
	gcs := ms.NumGC - gc0
	atomic.StoreInt32(&stop, 1)
	wg.Wait()

	n := len(late)
	sort.Slice(late, func(i, j int) bool { return late[i] < late[j] })
	us := func(p float64) float64 { return float64(late[int(p*float64(n))]) / 1e3 }
	fmt.Printf("RESULT gclat_p50_us %.1f us\n", us(0.50))
	fmt.Printf("RESULT gclat_p99_us %.1f us\n", us(0.99))
	fmt.Printf("RESULT gclat_p999_us %.1f us\n", us(0.999))
	fmt.Printf("RESULT gclat_max_us %.1f us\n", float64(late[n-1])/1e3)
	fmt.Printf("RESULT gclat_numgc %d\n", gcs)
	fmt.Printf("RESULT gclat_ticks %d\n", n)
	fmt.Printf("RESULT gclat_heap_mb %.1f MB\n", heapMB)
	fmt.Printf("# go, %d Ps, %d slots\n", runtime.GOMAXPROCS(0), nslots)
}
