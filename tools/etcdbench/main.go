// etcdbench: a closed-loop put benchmark for etcd, the counterpart of
// chatbench's send workload in scripts/bench-vs-etcd.sh. Built offline from
// Debian's golang-etcd-server-dev sources (GOPATH mode): Debian does not ship
// etcd's own tools/benchmark.
//
// C clients share N gRPC connections; each client keeps one put of a
// V-byte value in flight (closed loop) for the duration; latencies go into
// a sorted slice. Prints one line and writes JSON shaped like chatbench's.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"go.etcd.io/etcd/clientv3"
)

func main() {
	endpoints := flag.String("endpoints", "127.0.0.1:2379", "comma-separated endpoints")
	clients := flag.Int("clients", 64, "concurrent clients (one put in flight each)")
	conns := flag.Int("conns", 8, "gRPC connections shared by the clients")
	valSize := flag.Int("val-size", 256, "value bytes")
	keySpace := flag.Int("key-space", 100000, "distinct keys")
	duration := flag.Float64("duration", 10, "measured seconds")
	warmup := flag.Float64("warmup", 1, "unmeasured seconds before")
	jsonPath := flag.String("json", "", "write results as JSON to FILE")
	readyFile := flag.String("ready-file", "", "create FILE when the measured window begins (after the warm-up)")
	flag.Parse()

	eps := strings.Split(*endpoints, ",")
	cs := make([]*clientv3.Client, *conns)
	for i := range cs {
		c, err := clientv3.New(clientv3.Config{Endpoints: eps, DialTimeout: 5 * time.Second})
		if err != nil {
			fmt.Fprintln(os.Stderr, "etcdbench:", err)
			os.Exit(1)
		}
		defer c.Close()
		cs[i] = c
	}
	val := strings.Repeat("v", *valSize)
	start := time.Now()
	from := start.Add(time.Duration(*warmup * float64(time.Second)))
	end := from.Add(time.Duration(*duration * float64(time.Second)))
	if *readyFile != "" {
		go func() {
			time.Sleep(time.Until(from))
			if err := os.WriteFile(*readyFile, []byte("measuring\n"), 0o644); err != nil {
				fmt.Fprintln(os.Stderr, "etcdbench:", err)
			}
		}()
	}
	var mu sync.Mutex
	var lat []time.Duration
	errs := 0
	var last time.Time
	var wg sync.WaitGroup
	for i := 0; i < *clients; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			c := cs[i%len(cs)]
			r := rand.New(rand.NewSource(int64(i)))
			var mine []time.Duration
			myErrs := 0
			var myLast time.Time
			for {
				t := time.Now()
				if !t.Before(end) {
					break
				}
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				_, err := c.Put(ctx, fmt.Sprintf("k%08d", r.Intn(*keySpace)), val)
				cancel()
				done := time.Now()
				if t.Before(from) {
					continue
				}
				if err != nil {
					myErrs++
					continue
				}
				mine = append(mine, done.Sub(t))
				myLast = done
			}
			mu.Lock()
			lat = append(lat, mine...)
			errs += myErrs
			if myLast.After(last) {
				last = myLast
			}
			mu.Unlock()
		}(i)
	}
	wg.Wait()
	elapsed := end.Sub(from).Seconds()
	if last.After(end) {
		elapsed = last.Sub(from).Seconds()
	}
	sort.Slice(lat, func(a, b int) bool { return lat[a] < lat[b] })
	q := func(p float64) float64 {
		if len(lat) == 0 {
			return 0
		}
		i := int(p*float64(len(lat))+0.999999) - 1
		if i < 0 {
			i = 0
		}
		if i >= len(lat) {
			i = len(lat) - 1
		}
		return float64(lat[i].Microseconds()) / 1000
	}
	var sum time.Duration
	for _, l := range lat {
		sum += l
	}
	mean := 0.0
	if len(lat) > 0 {
		mean = float64(sum.Microseconds()) / 1000 / float64(len(lat))
	}
	thr := float64(len(lat)) / elapsed
	fmt.Printf("put  ok %d  %.1f ops/s  p50 %.2f  p90 %.2f  p99 %.2f  p99.9 %.2f  max %.2f ms  errors %d\n",
		len(lat), thr, q(0.5), q(0.9), q(0.99), q(0.999), q(1), errs)
	if *jsonPath != "" {
		out := map[string]interface{}{
			"clients": *clients, "conns": *conns, "val_size": *valSize,
			"result": map[string]interface{}{
				"ok": len(lat), "error_count": errs, "timeouts": 0, "throughput": thr, "elapsed_s": elapsed,
				"latency_ms": map[string]float64{"p50": q(0.5), "p90": q(0.9), "p99": q(0.99), "p99_9": q(0.999), "max": q(1), "mean": mean},
			},
		}
		b, _ := json.Marshal(out)
		if err := os.WriteFile(*jsonPath, append(b, '\n'), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "etcdbench:", err)
			os.Exit(1)
		}
	}
}
