// Peer of bench/alloc.c: the same three allocation patterns in Go 1.19.
// Go has no free: the slot's old object becomes garbage for the collector.
//
//	alloc a [ops]  one goroutine, sizes 8-1024 B, window of 10,000 objects
//	alloc b [ops]  4 goroutines each with a window of 2,500, swapping
//	               windows through a mailbox every 1,000 ops
//	alloc c [ops]  sizes 1-16 B ([]byte: noscan, the tiny allocator), window 100,000
package main

import (
	"fmt"
	"gortbench/benchutil"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"
)

func rnd(s *uint64) uint64 { // xorshift64*, as in alloc.c
	x := *s
	x ^= x >> 12
	x ^= x << 25
	x ^= x >> 27
	*s = x
	return x * 0x2545F4914F6CDD1D
}

func touch(b []byte) []byte {
	b[0] = 1
	b[len(b)-1] = 1
	return b
}

func window(ops, w int, lo, hi uint64, name string) {
	slot := make([][]byte, w)
	seed := uint64(88172645463325252)
	span := hi - lo + 1
	for i := range slot {
		slot[i] = touch(make([]byte, lo+rnd(&seed)%span))
	}
	t0 := time.Now()
	for k := 0; k < ops; k++ {
		r := rnd(&seed)
		i := (r >> 32) % uint64(w)
		slot[i] = touch(make([]byte, lo+(r&0xffffffff)%span))
	}
	el := time.Since(t0)
	fmt.Printf("RESULT %s_ns_per_op %.2f ns\n", name, float64(el.Nanoseconds())/float64(ops))
}

const (
	nw        = 4
	bw        = 2500
	xchgEvery = 1000
)

var mailbox unsafe.Pointer // *[][]byte

func xfer(ops int) {
	per := ops / nw
	mb := make([][]byte, bw)
	for i := range mb {
		mb[i] = touch(make([]byte, 64))
	}
	atomic.StorePointer(&mailbox, unsafe.Pointer(&mb))
	var wg sync.WaitGroup
	t0 := time.Now()
	for t := 0; t < nw; t++ {
		wg.Add(1)
		go func(t int) {
			defer wg.Done()
			seed := 0x9E3779B97F4A7C15 * uint64(t+1)
			win := make([][]byte, bw)
			for i := range win {
				win[i] = touch(make([]byte, 8+rnd(&seed)%1017))
			}
			for k := 0; k < per; k++ {
				r := rnd(&seed)
				i := (r >> 32) % bw
				win[i] = touch(make([]byte, 8+(r&0xffffffff)%1017))
				if k%xchgEvery == xchgEvery-1 {
					mine := new([][]byte) // a fresh box: the mailbox keeps it
					*mine = win
					win = *(*[][]byte)(atomic.SwapPointer(&mailbox, unsafe.Pointer(mine)))
				}
			}
		}(t)
	}
	wg.Wait()
	el := time.Since(t0)
	fmt.Printf("RESULT alloc_b_ns_per_op %.2f ns\n", float64(el.Nanoseconds())/float64(per*nw))
}

func main() {
	w := "a"
	ops := 50000000
	if len(os.Args) > 1 {
		w = os.Args[1]
	}
	if len(os.Args) > 2 {
		ops, _ = strconv.Atoi(os.Args[2])
	}
	switch w {
	case "a":
		window(ops, 10000, 8, 1024, "alloc_a")
	case "b":
		xfer(ops)
	case "c":
		window(ops, 100000, 1, 16, "alloc_c")
	default:
		fmt.Fprintln(os.Stderr, "usage: alloc a|b|c [ops]")
		os.Exit(2)
	}
	fmt.Printf("RESULT alloc_%s_peak_rss_kb %d kB\n", w, benchutil.StatusBytes("VmHWM:")/1024)
	fmt.Println("# go")
}
