// Peer of bench/map.c: Go 1.19's map[uint64]uint64 and map[string]int with
// the same keys and phases (insert N, hit N, miss N, delete N; peak RSS),
// and the worst single insert while a map grows to N.
//
//	map u64 N | map str N | map worst N
package main

import (
	"fmt"
	"gortbench/benchutil"
	"os"
	"strconv"
	"strings"
	"time"
)

func keyAt(i uint64) uint64 {
	z := i * 0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

func makeStr(i uint64) string {
	k := keyAt(i)
	n := 16 + int(k%49)
	hex := fmt.Sprintf("%016x", k)
	return strings.Repeat(hex, (n+15)/16)[:n]
}

func peakMB() int64 { return benchutil.StatusBytes("VmHWM:") >> 20 }

func report(what, phase string, ns float64) { fmt.Printf("RESULT map_%s_%s_ns %.1f ns\n", what, phase, ns) }

func main() {
	mode := "u64"
	n := uint64(2000000)
	if len(os.Args) > 1 {
		mode = os.Args[1]
	}
	if len(os.Args) > 2 {
		n, _ = strconv.ParseUint(os.Args[2], 10, 64)
	}
	base := peakMB()
	switch mode {
	case "u64":
		m := map[uint64]uint64{}
		t0 := time.Now()
		for i := uint64(1); i <= n; i++ {
			m[keyAt(i)] = i
		}
		t1 := time.Now()
		sum := uint64(0)
		for i := uint64(1); i <= n; i++ {
			sum += m[keyAt(i)]
		}
		t2 := time.Now()
		for i := n + 1; i <= 2*n; i++ {
			if _, ok := m[keyAt(i)]; ok {
				sum++
			}
		}
		t3 := time.Now()
		peak := peakMB() - base
		for i := uint64(1); i <= n; i++ {
			delete(m, keyAt(i))
		}
		t4 := time.Now()
		if sum != n*(n+1)/2 || len(m) != 0 {
			fmt.Println("wrong sum")
		}
		fn := float64(n)
		report("u64", "insert", float64(t1.Sub(t0).Nanoseconds())/fn)
		report("u64", "hit", float64(t2.Sub(t1).Nanoseconds())/fn)
		report("u64", "miss", float64(t3.Sub(t2).Nanoseconds())/fn)
		report("u64", "delete", float64(t4.Sub(t3).Nanoseconds())/fn)
		fmt.Printf("RESULT map_u64_peak_mb %d MB\n", peak)
	case "str":
		keys := make([]string, 2*n+1)
		for i := uint64(1); i <= 2*n; i++ {
			keys[i] = makeStr(i)
		}
		base = peakMB()
		m := map[string]int{}
		t0 := time.Now()
		for i := uint64(1); i <= n; i++ {
			m[keys[i]] = int(i)
		}
		t1 := time.Now()
		sum := 0
		for i := uint64(1); i <= n; i++ {
			sum += m[keys[i]]
		}
		t2 := time.Now()
		for i := n + 1; i <= 2*n; i++ {
			if _, ok := m[keys[i]]; ok {
				sum++
			}
		}
		t3 := time.Now()
		peak := peakMB() - base
		for i := uint64(1); i <= n; i++ {
			delete(m, keys[i])
		}
		t4 := time.Now()
		if uint64(sum) != n*(n+1)/2 {
			fmt.Println("wrong sum")
		}
		fn := float64(n)
		report("str", "insert", float64(t1.Sub(t0).Nanoseconds())/fn)
		report("str", "hit", float64(t2.Sub(t1).Nanoseconds())/fn)
		report("str", "miss", float64(t3.Sub(t2).Nanoseconds())/fn)
		report("str", "delete", float64(t4.Sub(t3).Nanoseconds())/fn)
		fmt.Printf("RESULT map_str_peak_mb %d MB\n", peak)
	case "worst":
		m := map[uint64]uint64{}
		var hist [1 << 16]uint32
		worst := time.Duration(0)
		t := time.Now()
		for i := uint64(1); i <= n; i++ {
			m[keyAt(i)] = i
			t2 := time.Now()
			d := t2.Sub(t)
			t = t2
			if d > worst {
				worst = d
			}
			b := d.Nanoseconds() / 100
			if b >= 1<<16 {
				b = 1<<16 - 1
			}
			hist[b]++
		}
		acc, p := uint64(0), 0
		for b := range hist {
			acc += uint64(hist[b])
			if acc >= n-n/10000 {
				p = b
				break
			}
		}
		fmt.Printf("RESULT map_worst_insert_us %.1f us\n", float64(worst.Nanoseconds())/1000)
		fmt.Printf("RESULT map_p9999_insert_us %.1f us\n", float64(p+1)/10)
	}
}
