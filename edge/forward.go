package edge

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/tandemhq/tandem"
)

// forward sends r to routes[0] and, when r may be repeated, to each next route
// while the previous one fails. It returns the last attempt's response or
// error and the region it came from.
func (p *Proxy) forward(r *http.Request, body io.ReadCloser, routes []tandem.RegionInfo, id string) (*http.Response, tandem.RegionInfo, int, error) {
	if !replayable(r) {
		routes = routes[:1]
	}
	for i, region := range routes {
		resp, err := p.send(r, body, region, id)
		if i == len(routes)-1 || !failed(r.Context(), resp, err) {
			return resp, region, i + 1, err
		}
		next := routes[i+1].Name
		attrs := []slog.Attr{
			slog.String("request_id", id),
			slog.String("region", region.Name),
			slog.String("next", next),
		}
		if err != nil {
			attrs = append(attrs, slog.String("error", err.Error()))
		} else {
			attrs = append(attrs, slog.Int("status", resp.StatusCode))
			resp.Body.Close()
		}
		p.logger().LogAttrs(r.Context(), slog.LevelWarn, "origin failed, trying next region", attrs...)
		p.Metrics.observeFailover(region.Name, next)
	}
	panic("edge: forward called without routes")
}

// replayable reports whether r may be sent to another region after a failed
// attempt: only GET and HEAD are idempotent, and only an empty body can be
// sent again without buffering it.
func replayable(r *http.Request) bool {
	return (r.Method == http.MethodGet || r.Method == http.MethodHead) && r.ContentLength == 0
}

// failed reports whether an attempt should be retried elsewhere: the region
// could not be reached or answered 5xx. A cancelled client is not a failure of
// the region.
func failed(ctx context.Context, resp *http.Response, err error) bool {
	if ctx.Err() != nil {
		return false
	}
	return err != nil || resp.StatusCode >= 500
}

// send makes one attempt at region. The outgoing request shares r's context, so
// a client that disconnects cancels it.
func (p *Proxy) send(r *http.Request, body io.ReadCloser, region tandem.RegionInfo, id string) (*http.Response, error) {
	target, err := url.Parse(region.URL)
	if err != nil {
		return nil, fmt.Errorf("parse region url: %w", err)
	}
	if target.Scheme == "" || target.Host == "" {
		return nil, fmt.Errorf("region url %q needs a scheme and host", region.URL)
	}

	out := r.Clone(r.Context())
	out.Body = body
	out.RequestURI = ""
	out.Close = false
	removeHopHeaders(out.Header)
	// The edge is where requests enter tandem, so forwarding headers the
	// client sent are not to be trusted; SetXForwarded writes fresh ones.
	for _, h := range []string{"Forwarded", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto"} {
		out.Header.Del(h)
	}
	pr := httputil.ProxyRequest{In: r, Out: out}
	pr.SetURL(target)
	pr.SetXForwarded()
	out.Header.Set(HeaderRequestID, id)
	if _, ok := out.Header["User-Agent"]; !ok {
		out.Header.Set("User-Agent", "") // stop Go adding its own
	}
	return p.roundTripper().RoundTrip(out)
}

// copyResponse passes resp on to w, flushing after every write so streamed
// responses arrive as they are produced.
func (p *Proxy) copyResponse(w http.ResponseWriter, resp *http.Response, region, id string) error {
	defer resp.Body.Close()
	removeHopHeaders(resp.Header)
	h := w.Header()
	for k, vv := range resp.Header {
		h[k] = vv
	}
	h.Set(HeaderRequestID, id)
	h.Set(HeaderRegion, region)
	w.WriteHeader(resp.StatusCode)

	if err := copyFlushing(w, resp.Body); err != nil {
		p.logger().Warn("response broke off", "request_id", id, "region", region, "error", err)
		return err
	}
	for k, vv := range resp.Trailer {
		h[http.TrailerPrefix+k] = vv
	}
	return nil
}

func copyFlushing(w http.ResponseWriter, src io.Reader) error {
	rc := http.NewResponseController(w)
	buf := make([]byte, 32<<10)
	for {
		n, rerr := src.Read(buf)
		if n > 0 {
			if _, err := w.Write(buf[:n]); err != nil {
				return fmt.Errorf("write response: %w", err)
			}
			if err := rc.Flush(); err != nil && !errors.Is(err, http.ErrNotSupported) {
				return fmt.Errorf("flush response: %w", err)
			}
		}
		if rerr == io.EOF {
			return nil
		}
		if rerr != nil {
			return fmt.Errorf("read upstream body: %w", rerr)
		}
	}
}

// hopHeaders apply to one connection and are not forwarded (RFC 9110 7.6.1).
var hopHeaders = []string{
	"Connection",
	"Proxy-Connection",
	"Keep-Alive",
	"Proxy-Authenticate",
	"Proxy-Authorization",
	"Te",
	"Trailer",
	"Transfer-Encoding",
	"Upgrade",
}

func removeHopHeaders(h http.Header) {
	for _, v := range h["Connection"] {
		for name := range strings.SplitSeq(v, ",") {
			if name = strings.TrimSpace(name); name != "" {
				h.Del(name)
			}
		}
	}
	for _, name := range hopHeaders {
		h.Del(name)
	}
}

// requestID returns the client's request id if it is sane, else a new one.
func requestID(client string) string {
	if validRequestID(client) {
		return client
	}
	return uuid.NewString()
}

func validRequestID(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, c := range []byte(s) {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '-', c == '_', c == '.':
		default:
			return false
		}
	}
	return true
}

func (p *Proxy) roundTripper() http.RoundTripper {
	p.once.Do(func() {
		p.transport = p.Transport
		if p.transport == nil {
			p.transport = newTransport()
		}
	})
	return p.transport
}

// newTransport returns the default transport: quick to give up on connecting,
// so a GET fails over fast, but with no limit on how long a response may take,
// so long polls work.
func newTransport() *http.Transport {
	return &http.Transport{
		DialContext: (&net.Dialer{
			Timeout:   DefaultDialTimeout,
			KeepAlive: 30 * time.Second,
		}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          100,
		MaxIdleConnsPerHost:   32,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   5 * time.Second,
		ExpectContinueTimeout: 1 * time.Second,
	}
}
