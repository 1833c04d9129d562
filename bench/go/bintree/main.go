// Peer of bench/bintree.c: binary-trees from the Computer Language
// Benchmarks Game, the same algorithm, the same output lines and the same
// RESULT lines.
//
//	bintree [depth]     depth 21 by default: a stretch tree of depth+1, a
//	                    long-lived tree of depth `depth`, then for d = 4, 6,
//	                    .., depth: 1 << (depth-d+4) trees of depth d
//	bintree -p [depth]  one goroutine per depth (a WaitGroup), as Go's
//	                    parallel binary-trees; lines printed in depth order
//
// Pauses come from runtime.ReadMemStats: the PauseNs ring (a cycle's entry
// is the sum of its stop-the-world pauses, sweep termination and mark
// termination), over the min(NumGC, 256) most recent cycles; the percentile
// is the sorted list's element floor(p * n), as in bintree.c.
package main

import (
	"fmt"
	"os"
	"runtime"
	"sort"
	"strconv"
	"sync"
	"syscall"
	"time"
)

const minDepth = 4

type Node struct {
	left, right *Node
}

func bottomUpTree(depth int) *Node {
	if depth <= 0 {
		return &Node{}
	}
	return &Node{bottomUpTree(depth - 1), bottomUpTree(depth - 1)}
}

func (n *Node) check() int {
	if n.left == nil {
		return 1
	}
	return 1 + n.left.check() + n.right.check()
}

func printPauses(prefix string) {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	n := ms.NumGC
	if n > 256 {
		n = 256
	}
	p := make([]uint64, n)
	for k := uint32(0); k < n; k++ {
		p[k] = ms.PauseNs[(ms.NumGC-1-k)%256]
	}
	sort.Slice(p, func(i, j int) bool { return p[i] < p[j] })
	max, p99 := 0.0, 0.0
	if n > 0 {
		i99 := uint32(0.99 * float64(n))
		if i99 >= n {
			i99 = n - 1
		}
		max, p99 = float64(p[n-1])/1e3, float64(p[i99])/1e3
	}
	fmt.Printf("RESULT %s_numgc %d\n", prefix, ms.NumGC)
	fmt.Printf("RESULT %s_pause_max_us %.1f us\n", prefix, max)
	fmt.Printf("RESULT %s_pause_p99_us %.1f us\n", prefix, p99)
	fmt.Printf("RESULT %s_pause_total_ms %.3f ms\n", prefix, float64(ms.PauseTotalNs)/1e6)
}

func main() {
	par, n := false, 21
	for _, a := range os.Args[1:] {
		if a == "-p" {
			par = true
		} else {
			n, _ = strconv.Atoi(a)
		}
	}
	maxDepth := n
	if maxDepth < minDepth+2 {
		maxDepth = minDepth + 2
	}
	t0 := time.Now()

	stretch := maxDepth + 1
	fmt.Printf("stretch tree of depth %d\t check: %d\n", stretch, bottomUpTree(stretch).check())

	longLived := bottomUpTree(maxDepth)

	if par {
		iters := make([]int, maxDepth+1)
		checks := make([]int, maxDepth+1)
		var wg sync.WaitGroup
		for d := minDepth; d <= maxDepth; d += 2 {
			wg.Add(1)
			go func(d int) {
				it, sum := 1<<uint(maxDepth-d+minDepth), 0
				for i := 0; i < it; i++ {
					sum += bottomUpTree(d).check()
				}
				iters[d], checks[d] = it, sum
				wg.Done()
			}(d)
		}
		wg.Wait()
		for d := minDepth; d <= maxDepth; d += 2 {
			fmt.Printf("%d\t trees of depth %d\t check: %d\n", iters[d], d, checks[d])
		}
	} else {
		for d := minDepth; d <= maxDepth; d += 2 {
			it, sum := 1<<uint(maxDepth-d+minDepth), 0
			for i := 0; i < it; i++ {
				sum += bottomUpTree(d).check()
			}
			fmt.Printf("%d\t trees of depth %d\t check: %d\n", it, d, sum)
		}
	}
	fmt.Printf("long lived tree of depth %d\t check: %d\n", maxDepth, longLived.check())
	el := time.Since(t0)

	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	fmt.Printf("RESULT bintree_s %.3f s\n", el.Seconds())
	fmt.Printf("RESULT bintree_maxrss_mb %.1f MB\n", float64(ru.Maxrss)/1024)
	printPauses("bintree")
	p := ""
	if par {
		p = " -p"
	}
	fmt.Printf("# go%s, %d Ps\n", p, runtime.GOMAXPROCS(0))
}
