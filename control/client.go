package control

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/tandemhq/tandem"
	"github.com/tandemhq/tandem/internal/httpjson"
)

// Client calls a controller's API.
type Client struct {
	URL    string // the controller's base URL
	Secret string
	HTTP   *http.Client
}

// Snapshot returns the current snapshot.
func (c *Client) Snapshot(ctx context.Context) (tandem.Snapshot, error) {
	var snap tandem.Snapshot
	return snap, c.Do(ctx, http.MethodGet, "/control/v1/snapshot", nil, &snap)
}

// Watch returns the snapshot once its version passes after, or the current
// one when wait runs out first.
func (c *Client) Watch(ctx context.Context, after uint64, wait time.Duration) (tandem.Snapshot, error) {
	var snap tandem.Snapshot
	return snap, c.Do(ctx, http.MethodGet, fmt.Sprintf("/control/v1/snapshot?after=%d&wait=%s", after, wait), nil, &snap)
}

// RenewLease asks for the writer lease.
func (c *Client) RenewLease(ctx context.Context, req LeaseRequest) (Lease, error) {
	var l Lease
	return l, c.Do(ctx, http.MethodPost, "/control/v1/lease", req, &l)
}

// SetState sets the application state.
func (c *Client) SetState(ctx context.Context, state string) (tandem.Snapshot, error) {
	var snap tandem.Snapshot
	return snap, c.Do(ctx, http.MethodPut, "/control/v1/state", StateRequest{State: state}, &snap)
}

// SetRouting turns a region's routing control on or off.
func (c *Client) SetRouting(ctx context.Context, region string, on bool) (tandem.Snapshot, error) {
	var snap tandem.Snapshot
	return snap, c.Do(ctx, http.MethodPut, "/control/v1/routing/"+url.PathEscape(region), RoutingRequest{On: &on}, &snap)
}

// Status returns the deployment's status, with table checksums if asked.
func (c *Client) Status(ctx context.Context, checksums bool) (Status, error) {
	var st Status
	path := "/control/v1/status"
	if checksums {
		path += "?checksums=1"
	}
	return st, c.Do(ctx, http.MethodGet, path, nil, &st)
}

// StartRunbook starts a runbook.
func (c *Client) StartRunbook(ctx context.Context, req RunbookRequest) (Runbook, error) {
	var rb Runbook
	return rb, c.Do(ctx, http.MethodPost, "/control/v1/runbooks", req, &rb)
}

// Runbook returns a runbook's record.
func (c *Client) Runbook(ctx context.Context, id string) (Runbook, error) {
	var rb Runbook
	return rb, c.Do(ctx, http.MethodGet, "/control/v1/runbooks/"+url.PathEscape(id), nil, &rb)
}

// Runbooks returns the newest runbook records.
func (c *Client) Runbooks(ctx context.Context) ([]Runbook, error) {
	var out struct{ Runbooks []Runbook }
	return out.Runbooks, c.Do(ctx, http.MethodGet, "/control/v1/runbooks", nil, &out)
}

// Alarms returns every alarm's state and the newest transitions.
func (c *Client) Alarms(ctx context.Context) (Alarms, error) {
	var a Alarms
	return a, c.Do(ctx, http.MethodGet, "/control/v1/alarms", nil, &a)
}

// AutoFailover returns whether the controller may fail over by itself.
func (c *Client) AutoFailover(ctx context.Context) (AutoFailoverStatus, error) {
	var st AutoFailoverStatus
	return st, c.Do(ctx, http.MethodGet, "/control/v1/autofailover", nil, &st)
}

// SetAutoFailoverPaused pauses or resumes automatic failover.
func (c *Client) SetAutoFailoverPaused(ctx context.Context, paused bool) (AutoFailoverStatus, error) {
	var st AutoFailoverStatus
	return st, c.Do(ctx, http.MethodPut, "/control/v1/autofailover", AutoFailoverRequest{Paused: &paused}, &st)
}

// Do sends a JSON request to the controller with the cluster secret and
// decodes the JSON answer into out (see httpjson.Call): a non-2xx answer
// becomes a *tandem.Error with the server's message.
func (c *Client) Do(ctx context.Context, method, path string, in, out any) error {
	return httpjson.Call(ctx, c.HTTP, method, strings.TrimRight(c.URL, "/")+path, c.Secret, in, out)
}
