// etcdbench: a closed-loop write benchmark, the counterpart of chatbench's
// send workload in scripts/bench-vs-etcd.sh. Built offline from Debian's
// golang-etcd-server-dev sources (GOPATH mode): Debian does not ship etcd's
// own tools/benchmark.
//
// --system etcd (the default): C clients share N gRPC connections of etcd's
// own Go client; each keeps one put of a V-byte value in flight.
// --system qc: the same closed loop against Quorum Chat, as a client that
// shares no code with it would: each of the C clients has its own WebSocket
// (gorilla/websocket) to a member, round robin over --endpoints, creates
// and logs in an account of its own, and sends V-byte messages to the next
// client's account (which is connected, so every send is also delivered
// live, as with chatbench). One harness then measures both systems.
// With --ca FILE it dials wss:// and verifies the members' certificates
// against that CA (a cluster with [tls]).
//
// Latencies go into a sorted slice. Prints one line and writes JSON shaped
// like chatbench's.
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
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
	system := flag.String("system", "etcd", "etcd (puts through etcd's Go client) or qc (Quorum Chat sends over WebSocket)")
	prefix := flag.String("prefix", fmt.Sprintf("gb%d", time.Now().UnixNano()%1000000000), "qc: account name prefix (accounts are PREFIX_0 ... PREFIX_{C-1})")
	readyFile := flag.String("ready-file", "", "create FILE when the measured window begins (after the warm-up)")
	caFile := flag.String("ca", "", "qc: dial wss:// and verify the members' certificates against this PEM CA")
	flag.Parse()

	eps := strings.Split(*endpoints, ",")
	val := strings.Repeat("v", *valSize)
	var write func(i int, r *rand.Rand) error
	switch *system {
	case "etcd":
		cs := make([]*clientv3.Client, *conns)
		for i := range cs {
			c, err := clientv3.New(clientv3.Config{Endpoints: eps, DialTimeout: 5 * time.Second})
			if err != nil {
				fail(err)
			}
			defer c.Close()
			cs[i] = c
		}
		write = func(i int, r *rand.Rand) error {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_, err := cs[i%len(cs)].Put(ctx, fmt.Sprintf("k%08d", r.Intn(*keySpace)), val)
			return err
		}
	case "qc":
		dialer, scheme, err := qcDialer(*caFile)
		if err != nil {
			fail(err)
		}
		qs, err := qcSetup(dialer, scheme, eps, *clients, *prefix)
		if err != nil {
			fail(err)
		}
		defer func() {
			for _, q := range qs {
				q.ws.Close()
			}
		}()
		for i, q := range qs {
			b, _ := json.Marshal(map[string]string{"op": "send", "to": qs[(i+1)%len(qs)].user, "body": val})
			q.sendReq = string(b)
		}
		write = func(i int, r *rand.Rand) error { return qs[i].send() }
	default:
		fail(fmt.Errorf("--system must be etcd or qc, not %q", *system))
	}
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
			r := rand.New(rand.NewSource(int64(i)))
			var mine []time.Duration
			myErrs := 0
			var myLast time.Time
			for {
				t := time.Now()
				if !t.Before(end) {
					break
				}
				err := write(i, r)
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
	op := map[string]string{"etcd": "put", "qc": "send"}[*system]
	fmt.Printf("%-4s ok %d  %.1f ops/s  p50 %.2f  p90 %.2f  p99 %.2f  p99.9 %.2f  max %.2f ms  errors %d\n",
		op, len(lat), thr, q(0.5), q(0.9), q(0.99), q(0.999), q(1), errs)
	if *jsonPath != "" {
		out := map[string]interface{}{
			"system": *system, "clients": *clients, "conns": *conns, "val_size": *valSize,
			"result": map[string]interface{}{
				"ok": len(lat), "error_count": errs, "timeouts": 0, "throughput": thr, "elapsed_s": elapsed,
				"latency_ms": map[string]float64{"p50": q(0.5), "p90": q(0.9), "p99": q(0.99), "p99_9": q(0.999), "max": q(1), "mean": mean},
			},
		}
		b, _ := json.Marshal(out)
		if err := os.WriteFile(*jsonPath, append(b, '\n'), 0o644); err != nil {
			fail(err)
		}
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "etcdbench:", err)
	os.Exit(1)
}

// qcClient is one Quorum Chat connection, logged in as user.
type qcClient struct {
	ws   *websocket.Conn
	user string
	id   int64
	buf  []byte
	// sendReq: the send this client repeats, without its id (built once).
	sendReq string
	// broken: the connection failed; later sends fail at once (after a
	// pause, so that a dead client does not spin).
	broken bool
}

// qcReply holds what the harness reads of a frame: a reply echoes its
// request's id; an event (live delivery) has none and is skipped.
type qcReply struct {
	ID    *int64 `json:"id"`
	OK    bool   `json:"ok"`
	Error *struct {
		Code         string `json:"code"`
		Message      string `json:"message"`
		RetryAfterMs int64  `json:"retry_after_ms"`
	} `json:"error"`
}

// err is nil for an ok reply, else what the reply says went wrong.
func (r qcReply) err() error {
	switch {
	case r.OK:
		return nil
	case r.Error != nil:
		return fmt.Errorf("%s: %s", r.Error.Code, r.Error.Message)
	default:
		return fmt.Errorf("a reply neither ok nor an error")
	}
}

// call sends req (a JSON object without its id, which call adds) and
// returns the reply carrying that id.
func (q *qcClient) call(req string) (qcReply, error) {
	if q.broken {
		time.Sleep(10 * time.Millisecond)
		return qcReply{}, fmt.Errorf("connection lost")
	}
	q.id++
	q.buf = append(append(strconv.AppendInt(append(q.buf[:0], `{"id":`...), q.id, 10), ','), req[1:]...)
	// Every request gets one reply; 5 s without it fails the connection,
	// as etcd's puts time out after 5 s.
	q.ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	if err := q.ws.WriteMessage(websocket.TextMessage, q.buf); err != nil {
		q.broken = true
		return qcReply{}, err
	}
	for {
		_, frame, err := q.ws.ReadMessage()
		if err != nil {
			q.broken = true
			return qcReply{}, err
		}
		var r qcReply
		if err := json.Unmarshal(frame, &r); err != nil {
			return qcReply{}, fmt.Errorf("a frame that is not JSON: %v", err)
		}
		if r.ID != nil && *r.ID == q.id {
			return r, nil
		}
	}
}

// patiently is call, retried after the node's retry_after_ms while it
// answers rate_limited (a full password-hashing queue at set-up).
func (q *qcClient) patiently(req string) error {
	for {
		r, err := q.call(req)
		if err != nil {
			return err
		}
		if r.Error != nil && r.Error.Code == "rate_limited" {
			time.Sleep(time.Duration(r.Error.RetryAfterMs+1) * time.Millisecond)
			continue
		}
		return r.err()
	}
}

// send sends this client's message once.
func (q *qcClient) send() error {
	r, err := q.call(q.sendReq)
	if err != nil {
		return err
	}
	return r.err()
}

// qcDialer is the WebSocket dialer and URL scheme for a cluster: ws://
// without a CA file, else wss:// trusting only the CA in caFile.
func qcDialer(caFile string) (*websocket.Dialer, string, error) {
	if caFile == "" {
		return websocket.DefaultDialer, "ws", nil
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, "", err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, "", fmt.Errorf("%s: no PEM certificate in it", caFile)
	}
	d := *websocket.DefaultDialer
	d.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	return &d, "wss", nil
}

// qcSetup connects n clients round robin over eps with dialer, and creates
// and logs in an account for each, 16 at a time.
func qcSetup(dialer *websocket.Dialer, scheme string, eps []string, n int, prefix string) ([]*qcClient, error) {
	qs := make([]*qcClient, n)
	errs := make(chan error, n)
	sem := make(chan struct{}, 16)
	for i := range qs {
		go func(i int) {
			sem <- struct{}{}
			defer func() { <-sem }()
			ws, _, err := dialer.Dial(scheme+"://"+eps[i%len(eps)]+"/ws", nil)
			if err != nil {
				errs <- err
				return
			}
			q := &qcClient{ws: ws, user: prefix + "_" + strconv.Itoa(i)}
			qs[i] = q
			cred, _ := json.Marshal(map[string]string{"user": q.user, "password": "bench-password"})
			for _, op := range []string{"create_account", "login"} {
				if err := q.patiently(`{"op":"` + op + `",` + string(cred[1:])); err != nil {
					errs <- fmt.Errorf("%s %s on %s: %v", op, q.user, eps[i%len(eps)], err)
					return
				}
			}
			errs <- nil
		}(i)
	}
	var first error
	for range qs {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	return qs, first
}
