// Package edge is the global entry point of tandem: an HTTP reverse proxy that
// sends every API call to the region the current control snapshot routes it
// to.
//
// A request goes to the writer region. GET and HEAD requests without a body
// are safe to repeat, so when the writer cannot be reached or answers 5xx they
// fail over to the next region whose routing control is on; every other
// method is sent exactly once. Responses are streamed back with a flush after
// each write, so long polls and server-sent events pass through.
package edge

import (
	"cmp"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/tandemhq/tandem"
)

// DefaultMaxBodyBytes is the largest request body the edge forwards unless
// Proxy.MaxBodyBytes says otherwise.
const DefaultMaxBodyBytes = 32 << 20

// DefaultDialTimeout bounds connecting to a region with the default transport.
// It is short so that a dead writer costs a GET little before it fails over.
const DefaultDialTimeout = 1 * time.Second

// Header names the edge reads and writes.
const (
	HeaderRequestID = "X-Request-Id"
	HeaderRegion    = "X-Tandem-Region"
)

// statusClientClosed is recorded (never sent) when the client went away
// before any response was written; nginx's convention.
const statusClientClosed = 499

// Proxy sends each request to the regions tandem.Snapshot.Routes returns.
// Fields must not change once the proxy serves requests.
type Proxy struct {
	// Snapshot returns the current control snapshot. Required. It is called
	// once per request, so a change of writer applies to the next request.
	Snapshot func() tandem.Snapshot

	// Transport sends requests to regions. Default: an *http.Transport with
	// keep-alives and a DefaultDialTimeout connect timeout.
	Transport http.RoundTripper

	// Logger receives one access line per request. Default: slog.Default().
	Logger *slog.Logger

	// MaxBodyBytes limits request bodies; larger ones get 413.
	// Default: DefaultMaxBodyBytes.
	MaxBodyBytes int64

	// Metrics, if set, counts requests and failovers.
	Metrics *Metrics

	once      sync.Once
	transport http.RoundTripper
}

// outcome is what happened to one request, for the access log and metrics.
type outcome struct {
	region   string // region that answered; "" when none did
	attempts int
}

// ServeHTTP proxies r to the routed regions. If a response breaks off after
// its header was sent, it panics with http.ErrAbortHandler so the server cuts
// the connection and the client does not mistake the truncated body for a
// whole one.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	id := requestID(r.Header.Get(HeaderRequestID))
	w.Header().Set(HeaderRequestID, id)

	rec := &recorder{ResponseWriter: w}
	out, copyErr := p.proxy(rec, r, id)

	status := cmp.Or(rec.status, statusClientClosed)
	region := cmp.Or(out.region, "none")
	elapsed := time.Since(start)
	p.Metrics.observeRequest(region, r.Method, status, elapsed)
	p.logger().LogAttrs(r.Context(), slog.LevelInfo, "request",
		slog.String("request_id", id),
		slog.String("method", r.Method),
		slog.String("path", r.URL.Path),
		slog.Int("status", status),
		slog.Int64("bytes", rec.bytes),
		slog.Float64("duration_ms", float64(elapsed.Microseconds())/1000),
		slog.String("region", region),
		slog.Int("attempts", out.attempts),
	)
	if copyErr != nil {
		// The status line is already sent; aborting makes the client see a
		// broken response instead of a complete-looking truncated one.
		panic(http.ErrAbortHandler)
	}
}

// proxy forwards r and writes the answer to w. It returns a non-nil error only
// when the response broke off after its header was sent.
func (p *Proxy) proxy(w *recorder, r *http.Request, id string) (outcome, error) {
	routes := p.Snapshot().Routes()
	if len(routes) == 0 {
		writeError(w, http.StatusServiceUnavailable, tandem.Errorf(tandem.EUNAVAILABLE,
			"no region is receiving traffic: every routing control is off"))
		return outcome{}, nil
	}
	limit := cmp.Or(p.MaxBodyBytes, DefaultMaxBodyBytes)
	if r.ContentLength > limit {
		writeError(w, http.StatusRequestEntityTooLarge, errBodyTooLarge)
		return outcome{}, nil
	}
	body := r.Body
	if r.ContentLength == 0 {
		body = http.NoBody
	} else {
		// Given the server's own writer, MaxBytesReader also closes the
		// client connection once the limit is hit.
		body = http.MaxBytesReader(w.ResponseWriter, r.Body, limit)
	}

	resp, region, attempts, err := p.forward(r, body, routes, id)
	out := outcome{attempts: attempts}
	var tooLarge *http.MaxBytesError
	switch {
	case err == nil:
		out.region = region.Name
		return out, p.copyResponse(w, resp, region.Name, id)
	case errors.As(err, &tooLarge):
		writeError(w, http.StatusRequestEntityTooLarge, errBodyTooLarge)
	case r.Context().Err() != nil:
		// The client is gone; nobody would read an answer.
	default:
		writeError(w, http.StatusBadGateway, tandem.Errorf(tandem.EUNAVAILABLE,
			"region %s is unreachable", region.Name))
	}
	return out, nil
}

var errBodyTooLarge = tandem.Errorf(tandem.ETOOLARGE, "request body too large")

func (p *Proxy) logger() *slog.Logger {
	if p.Logger == nil {
		return slog.Default()
	}
	return p.Logger
}

// writeError writes err's user-facing message as a JSON error body. Errors
// that are not a *tandem.Error show only a generic message.
func writeError(w http.ResponseWriter, status int, err error) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(struct {
		Message string `json:"message"`
	}{tandem.ErrorMessage(err)})
}

// recorder remembers the status and size of the response for the access log.
type recorder struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (rw *recorder) WriteHeader(code int) {
	if rw.status == 0 && code >= 200 {
		rw.status = code
	}
	rw.ResponseWriter.WriteHeader(code)
}

func (rw *recorder) Write(b []byte) (int, error) {
	if rw.status == 0 {
		rw.status = http.StatusOK
	}
	n, err := rw.ResponseWriter.Write(b)
	rw.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the server's writer to flush.
func (rw *recorder) Unwrap() http.ResponseWriter { return rw.ResponseWriter }
