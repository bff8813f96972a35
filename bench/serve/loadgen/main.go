// loadgen: an HTTP load generator for GET endpoints, standard library only, one JSON line out.
//
// Two modes:
//
//	closed loop  -c 64 -d 20s      64 workers, each sends its next request when the previous
//	                               one has answered: the throughput a server sustains.
//	open loop    -rate 1000 -d 20s requests due on a fixed schedule (one every 1/rate s), each
//	                               timed from the moment it was DUE, not from when a worker got
//	                               round to sending it, so a server that stalls cannot hide the
//	                               stall by slowing the generator down (coordinated omission).
//
// Requests rotate through the URLs of -urls (one full URL per line). -warmup runs first and is
// not counted. Latencies are kept exactly (one int64 per request) and sorted once at the end:
// a 20 s run at 20,000 requests/s is 400,000 numbers, cheaper than any histogram bookkeeping
// on the hot path of a generator that shares 2 cores with the server it measures.
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

type headerFlags []string

func (h *headerFlags) String() string     { return strings.Join(*h, ", ") }
func (h *headerFlags) Set(v string) error { *h = append(*h, v); return nil }

type options struct {
	urlsFile    string
	concurrency int
	rate        float64
	duration    time.Duration
	warmup      time.Duration
	timeout     time.Duration
	maxInFlight int
	drain       time.Duration
	headers     headerFlags
}

// result is the one JSON line printed. Latencies include failed requests: a fast 500 or a
// timeout is still time a caller waited.
type result struct {
	Mode         string         `json:"mode"`
	Concurrency  int            `json:"concurrency,omitempty"`
	Rate         float64        `json:"rate,omitempty"`
	Seconds      float64        `json:"seconds"` // the window rps is over: -d, or longer when an open loop drained late
	Requests     int            `json:"requests"`
	RPS          float64        `json:"rps"`
	Errors       int            `json:"errors"`
	StatusCounts map[string]int `json:"statusCounts"`
	P50Ms        float64        `json:"p50Ms"`
	P90Ms        float64        `json:"p90Ms"`
	P99Ms        float64        `json:"p99Ms"`
	P999Ms       float64        `json:"p999Ms"`
	MaxMs        float64        `json:"maxMs"`
	// Open loop only: how long after it was due each request was sent. The latencies count
	// from the due time, so this is in them: a fraction of a millisecond is the timer waking
	// the sender; more means every in-flight slot was busy (the server fell behind the
	// schedule) or the machine was too busy to run the generator on time.
	SendLagP50Ms *float64 `json:"sendLagP50Ms,omitempty"`
	SendLagP99Ms *float64 `json:"sendLagP99Ms,omitempty"`
	SendLagMaxMs *float64 `json:"sendLagMaxMs,omitempty"`
	FirstError   string   `json:"firstError,omitempty"`
}

// outcome of one request: an HTTP status, or a transport error (status 0).
type outcome struct {
	status int
	err    error
	body   string // the start of a non-2xx body, for the report
}

// tally is what one worker records; merged once at the end so workers never share memory.
type tally struct {
	latencies  []int64 // nanoseconds
	lags       []int64 // open loop: nanoseconds from due to sent
	statuses   map[int]int
	transport  int
	unsent     int
	lastDone   time.Time
	firstError string
}

func newTally() *tally {
	return &tally{latencies: make([]int64, 0, 4096), statuses: map[int]int{}}
}

func (t *tally) add(latency time.Duration, o outcome) {
	t.latencies = append(t.latencies, int64(latency))
	if o.err != nil {
		t.transport++
		if t.firstError == "" {
			t.firstError = o.err.Error()
		}
		return
	}
	t.statuses[o.status]++
	if (o.status < 200 || o.status >= 300) && t.firstError == "" {
		t.firstError = fmt.Sprintf("HTTP %d: %s", o.status, o.body)
	}
}

// client sends prepared GETs straight through one tuned Transport: no http.Client layer
// (redirects, cookies, per-request timers) on the hot path.
type client struct {
	transport *http.Transport
	header    http.Header
	urls      []*url.URL
}

func newClient(urls []*url.URL, headers []string, conns int, timeout time.Duration) (*client, error) {
	header := http.Header{}
	for _, h := range headers {
		name, value, ok := strings.Cut(h, ":")
		if !ok {
			return nil, fmt.Errorf("header %q is not 'Name: value'", h)
		}
		header.Add(strings.TrimSpace(name), strings.TrimSpace(value))
	}
	transport := &http.Transport{
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:          conns * 2,
		MaxIdleConnsPerHost:   conns * 2, // never close a keep-alive connection a worker will want back
		IdleConnTimeout:       90 * time.Second,
		ResponseHeaderTimeout: timeout,
		DisableCompression:    true, // every server answers plain JSON; no Accept-Encoding asymmetry
		ForceAttemptHTTP2:     false,
	}
	return &client{transport: transport, header: header, urls: urls}, nil
}

// do sends one GET and reads the whole body, so the connection goes back to the idle pool.
func (c *client) do(i int) outcome {
	u := c.urls[i%len(c.urls)]
	// The header map is shared read-only: the Transport never writes to a request's Header.
	req := &http.Request{Method: http.MethodGet, URL: u, Host: u.Host, Header: c.header, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1}
	resp, err := c.transport.RoundTrip(req)
	if err != nil {
		return outcome{err: err}
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		_, err = io.Copy(io.Discard, resp.Body)
		return outcome{status: resp.StatusCode, err: err}
	}
	head, _ := io.ReadAll(io.LimitReader(resp.Body, 300))
	_, _ = io.Copy(io.Discard, resp.Body)
	return outcome{status: resp.StatusCode, body: strings.TrimSpace(string(head))}
}

// closedLoop: each worker starts at its own place in the URL list and walks it in order.
// Counted: requests sent after the warm-up and answered before the end, so the measured
// window holds only whole requests.
func closedLoop(c *client, o options) []*tally {
	countFrom := time.Now().Add(o.warmup)
	end := countFrom.Add(o.duration)
	tallies := make([]*tally, o.concurrency)
	var wg sync.WaitGroup
	for w := range tallies {
		tallies[w] = newTally()
		wg.Add(1)
		go func(t *tally, i int) {
			defer wg.Done()
			for {
				started := time.Now()
				if !started.Before(end) {
					return
				}
				out := c.do(i)
				done := time.Now()
				if !started.Before(countFrom) && !done.After(end) {
					t.add(done.Sub(started), out)
				}
				i++
			}
		}(tallies[w], w*len(c.urls)/o.concurrency)
	}
	wg.Wait()
	return tallies
}

// openLoop: request k is due at start + k/rate. A fixed pool of goroutines takes the next k,
// sleeps until it is due and sends it; when every goroutine is busy the request goes out
// late, and its latency still counts from when it was due. Counted: requests due after the
// warm-up and before the end. The run waits for them, but a server slower than the schedule
// builds a backlog it may take very long to drain: requests still unsent -drain after the
// end are not sent, and count as errors ("unsent") with the time they had waited so far.
// Returns the tallies and the first counted request's due time.
func openLoop(c *client, o options) ([]*tally, time.Time) {
	interval := time.Duration(float64(time.Second) / o.rate)
	start := time.Now().Add(10 * time.Millisecond)
	total := int64((o.warmup + o.duration) / interval)
	warm := int64(o.warmup / interval)
	giveUp := start.Add(o.warmup + o.duration + o.drain)
	var next atomic.Int64
	tallies := make([]*tally, o.maxInFlight)
	var wg sync.WaitGroup
	for w := range tallies {
		tallies[w] = newTally()
		wg.Add(1)
		go func(t *tally) {
			defer wg.Done()
			for {
				k := next.Add(1) - 1
				if k >= total {
					return
				}
				due := start.Add(time.Duration(k) * interval)
				if wait := time.Until(due); wait > 0 {
					time.Sleep(wait)
				}
				now := time.Now()
				if now.After(giveUp) {
					if k >= warm {
						t.latencies = append(t.latencies, int64(now.Sub(due)))
						t.unsent++
					}
					continue
				}
				out := c.do(int(k))
				if k >= warm {
					t.add(time.Since(due), out)
					t.lags = append(t.lags, int64(now.Sub(due)))
					t.lastDone = time.Now()
				}
			}
		}(tallies[w])
	}
	wg.Wait()
	return tallies, start.Add(time.Duration(warm) * interval)
}

func percentile(sorted []int64, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	// Nearest rank: the smallest latency at or above which q of the requests fall.
	rank := int(q*float64(len(sorted))+0.999999999) - 1
	rank = max(0, min(rank, len(sorted)-1))
	return ms(sorted[rank])
}

func ms(ns int64) float64 {
	return float64(ns/1000) / 1000 // microsecond resolution is plenty and keeps the JSON short
}

// summarize merges the tallies. rps is what the server answered per second of the measured
// window; for the open loop the window runs on until the last counted answer when the
// server took longer than the schedule to answer them all.
func summarize(tallies []*tally, seconds float64) result {
	var all, lags []int64
	r := result{Seconds: float64(int(seconds*1000)) / 1000, StatusCounts: map[string]int{}}
	for _, t := range tallies {
		all = append(all, t.latencies...)
		lags = append(lags, t.lags...)
		for status, n := range t.statuses {
			r.StatusCounts[strconv.Itoa(status)] += n
			if status < 200 || status >= 300 {
				r.Errors += n
			}
		}
		if t.transport > 0 {
			r.StatusCounts["transport"] += t.transport
			r.Errors += t.transport
		}
		if t.unsent > 0 {
			r.StatusCounts["unsent"] += t.unsent
			r.Errors += t.unsent
		}
		if r.FirstError == "" {
			r.FirstError = t.firstError
		}
	}
	slices.Sort(all)
	r.Requests = len(all)
	r.RPS = float64(int(float64(len(all)-r.StatusCounts["unsent"])/seconds*10)) / 10
	r.P50Ms = percentile(all, 0.50)
	r.P90Ms = percentile(all, 0.90)
	r.P99Ms = percentile(all, 0.99)
	r.P999Ms = percentile(all, 0.999)
	if len(all) > 0 {
		r.MaxMs = ms(all[len(all)-1])
	}
	if len(lags) > 0 {
		slices.Sort(lags)
		p50, p99, top := percentile(lags, 0.5), percentile(lags, 0.99), ms(lags[len(lags)-1])
		r.SendLagP50Ms, r.SendLagP99Ms, r.SendLagMaxMs = &p50, &p99, &top
	}
	return r
}

func readURLs(file string) ([]*url.URL, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var urls []*url.URL
	scanner := bufio.NewScanner(f)
	for scanner.Scan() {
		line := strings.TrimSpace(scanner.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		u, err := url.Parse(line)
		if err != nil || u.Host == "" || (u.Scheme != "http") {
			return nil, fmt.Errorf("%s: %q is not an http:// URL", file, line)
		}
		urls = append(urls, u)
	}
	if err := scanner.Err(); err != nil {
		return nil, err
	}
	if len(urls) == 0 {
		return nil, fmt.Errorf("%s holds no URL", file)
	}
	return urls, nil
}

func parseOptions() (options, error) {
	var o options
	flag.StringVar(&o.urlsFile, "urls", "", "file with one full URL per line (required)")
	flag.IntVar(&o.concurrency, "c", 0, "closed loop: number of workers, each waiting for its answer before the next request")
	flag.Float64Var(&o.rate, "rate", 0, "open loop: requests per second on a fixed schedule")
	flag.DurationVar(&o.duration, "d", 20*time.Second, "measured duration")
	flag.DurationVar(&o.warmup, "warmup", 3*time.Second, "warm-up before the measured duration, not counted")
	flag.DurationVar(&o.timeout, "timeout", 10*time.Second, "time to wait for response headers before counting a transport error")
	flag.IntVar(&o.maxInFlight, "max-inflight", 512, "open loop: requests that may be outstanding at once")
	flag.DurationVar(&o.drain, "drain", 10*time.Second, "open loop: after the end, how long requests still due may wait to be sent")
	flag.Var(&o.headers, "H", "request header 'Name: value' (repeatable)")
	flag.Parse()
	switch {
	case o.urlsFile == "":
		return o, errors.New("-urls is required")
	case (o.concurrency > 0) == (o.rate > 0):
		return o, errors.New("give exactly one of -c N (closed loop) or -rate R (open loop)")
	case o.duration <= 0 || o.warmup < 0:
		return o, errors.New("-d must be positive and -warmup not negative")
	case o.rate > 0 && o.maxInFlight < 1:
		return o, errors.New("-max-inflight must be at least 1")
	}
	return o, nil
}

func main() {
	o, err := parseOptions()
	if err == nil {
		err = run(o)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(2)
	}
}

func run(o options) error {
	urls, err := readURLs(o.urlsFile)
	if err != nil {
		return err
	}
	conns := o.concurrency
	if o.rate > 0 {
		conns = o.maxInFlight
	}
	c, err := newClient(urls, o.headers, conns, o.timeout)
	if err != nil {
		return err
	}
	var r result
	if o.concurrency > 0 {
		r = summarize(closedLoop(c, o), o.duration.Seconds())
		r.Mode, r.Concurrency = "closed", o.concurrency
	} else {
		tallies, countFrom := openLoop(c, o)
		window := o.duration
		for _, t := range tallies {
			window = max(window, t.lastDone.Sub(countFrom))
		}
		r = summarize(tallies, window.Seconds())
		r.Mode, r.Rate = "open", o.rate
	}
	c.transport.CloseIdleConnections()
	line, err := json.Marshal(r)
	if err != nil {
		return err
	}
	fmt.Println(string(line))
	return nil
}
