package control

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/tandemhq/tandem"
	"github.com/tandemhq/tandem/internal/httpjson"
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
	return httpjson.Call(ctx, c.Client, method, strings.TrimRight(base, "/")+path, c.Secret, in, out)
}
