// Package httpjson reads and writes the JSON bodies of tandem's HTTP APIs,
// with the same limits and error shapes everywhere.
package httpjson

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strings"

	"github.com/tandemhq/tandem"
)

// DefaultMaxBody is the largest JSON request body accepted: 64 KiB.
const DefaultMaxBody = 64 << 10

// Decode reads r's body as one JSON value into v. The body must be JSON (by
// Content-Type, when one is given), at most max bytes, and hold nothing but
// that value. Errors are *tandem.Error: EUNSUPPORTED, ETOOLARGE or EINVALID.
func Decode(w http.ResponseWriter, r *http.Request, max int64, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && mt != "text/plain") {
			return tandem.Errorf(tandem.EUNSUPPORTED, "request body must be application/json")
		}
	}
	if r.ContentLength > max {
		return tandem.Errorf(tandem.ETOOLARGE, "request body is larger than %d bytes", max)
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, max))
	if err := dec.Decode(v); err != nil {
		var tooBig *http.MaxBytesError
		var syntax *json.SyntaxError
		var typ *json.UnmarshalTypeError
		switch {
		case errors.As(err, &tooBig):
			return tandem.Errorf(tandem.ETOOLARGE, "request body is larger than %d bytes", max)
		case errors.Is(err, io.EOF):
			return tandem.Errorf(tandem.EINVALID, "request body is empty; a JSON object is required")
		case errors.As(err, &syntax), errors.Is(err, io.ErrUnexpectedEOF):
			return tandem.Errorf(tandem.EINVALID, "request body is not valid JSON")
		case errors.As(err, &typ):
			return tandem.Errorf(tandem.EINVALID, "field %q must be a %s", typ.Field, typ.Type)
		default:
			return tandem.Errorf(tandem.EINVALID, "request body is not valid JSON")
		}
	}
	if dec.More() {
		return tandem.Errorf(tandem.EINVALID, "request body holds more than one JSON value")
	}
	return nil
}

// Write writes v as JSON with the given status.
func Write(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// Message is the JSON error body of every tandem API: {"message": "..."}.
type Message struct {
	Message string `json:"message"`
}

// Error writes err as a JSON message with the status its code maps to. An
// internal error is logged with its detail and shown as a generic message.
func Error(w http.ResponseWriter, r *http.Request, logger *slog.Logger, err error) {
	status := tandem.ErrorStatus(err)
	if status >= 500 && tandem.ErrorCode(err) == tandem.EINTERNAL {
		if logger == nil {
			logger = slog.Default()
		}
		logger.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	if status == http.StatusUnauthorized && w.Header().Get("WWW-Authenticate") == "" {
		w.Header().Set("WWW-Authenticate", `Bearer realm="tandem"`)
	}
	Write(w, status, Message{tandem.ErrorMessage(err)})
}

// Errorf writes a JSON message with the given code's status.
func Errorf(w http.ResponseWriter, r *http.Request, code, format string, args ...any) {
	Error(w, r, nil, tandem.Errorf(code, "%s", fmt.Sprintf(format, args...)))
}

// Call sends in (if not nil) as JSON to url with the bearer token (if not
// empty), and decodes a 2xx answer's JSON into out (unless out is nil or the
// answer is 204 No Content). Any other answer is a *tandem.Error with the
// code its status stands for (tandem.StatusErrorCode) and the server's
// message; no answer at all is EUNAVAILABLE.
func Call(ctx context.Context, client *http.Client, method, url, token string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, body)
	if err != nil {
		return err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return tandem.Errorf(tandem.EUNAVAILABLE, "unreachable: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		var m Message
		if json.Unmarshal(msg, &m) == nil && m.Message != "" {
			msg = []byte(m.Message)
		}
		text := resp.Status
		if s := strings.TrimSpace(string(msg)); s != "" {
			text += ": " + s
		}
		return tandem.Errorf(tandem.StatusErrorCode(resp.StatusCode), "%s", text)
	}
	if out == nil || resp.StatusCode == http.StatusNoContent {
		return nil
	}
	return json.NewDecoder(resp.Body).Decode(out)
}
