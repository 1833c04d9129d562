// Peer of bench/hash.c: Go 1.19's hash/maphash (AES on this machine),
// maphash.Bytes over the same sizes; ns per hash, independent calls.
package main

import (
	"fmt"
	"hash/maphash"
	"os"
	"strconv"
	"time"
)

func main() {
	buf := make([]byte, (1<<20)+65536)
	for i := range buf {
		buf[i] = byte(i*131 + (i >> 8))
	}
	seed := maphash.MakeSeed()
	fmt.Println("impl go maphash")
	for _, n := range []int{8, 16, 64, 1024, 65536} {
		if len(os.Args) > 1 {
			if w, _ := strconv.Atoi(os.Args[1]); w != n {
				continue
			}
		}
		iters := 20000000
		if n >= 65536 {
			iters = 20000
		} else if n >= 1024 {
			iters = 1000000
		}
		best := 1e30
		acc := uint64(0)
		for rep := 0; rep < 3; rep++ {
			t0 := time.Now()
			for i := 0; i < iters; i++ {
				off := (i * 64) & ((1 << 20) - 1)
				acc += maphash.Bytes(seed, buf[off:off+n])
			}
			t := float64(time.Since(t0).Nanoseconds()) / float64(iters)
			if t < best {
				best = t
			}
		}
		if acc == 42 {
			fmt.Print("!")
		}
		fmt.Printf("RESULT hash_%d_ns %.1f ns\n", n, best)
	}
}
