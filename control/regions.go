package control

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/tandemhq/tandem"
)

// ProbePath is where a region takes a runbook's write probe.
const ProbePath = "/internal/v1/probe"

// RegionStatus asks a region for its status.
func (c *Controller) RegionStatus(ctx context.Context, r tandem.RegionInfo, checksums bool) (*tandem.RegionStatus, error) {
	path := StatusPath
	if checksums {
		path += "?checksums=1"
	}
	var rs tandem.RegionStatus
	if err := c.callRegion(ctx, http.MethodGet, r.URL, path, nil, &rs); err != nil {
		return nil, err
	}
	return &rs, nil
}

// regionStatusByName asks the named region for its status.
func (c *Controller) regionStatusByName(ctx context.Context, name string) (*tandem.RegionStatus, error) {
	r, ok := c.Snapshot().Region(name)
	if !ok {
		return nil, tandem.Errorf(tandem.ENOTFOUND, "unknown region %q", name)
	}
	return c.RegionStatus(ctx, r, false)
}

// probe writes through ProbeURL (or straight to the writer) and returns nil
// once the write is acknowledged.
func (c *Controller) probe(ctx context.Context, id string) error {
	base := c.ProbeURL
	if base == "" {
		w, ok := c.Snapshot().WriterInfo()
		if !ok {
			return fmt.Errorf("no writer to probe")
		}
		base = w.URL
	}
	return c.callRegion(ctx, http.MethodPost, base, ProbePath, map[string]string{"id": id}, nil)
}

func (c *Controller) callRegion(ctx context.Context, method, base, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(base, "/")+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.Secret)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.Client.Do(req)
	if err != nil {
		return fmt.Errorf("unreachable: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("%s: %s", resp.Status, strings.TrimSpace(string(msg)))
	}
	if out == nil {
		return nil
	}
	return json.NewDecoder(resp.Body).Decode(out)
}
