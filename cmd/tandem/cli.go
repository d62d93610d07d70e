package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/tandemhq/tandem"
	"github.com/tandemhq/tandem/control"
)

// target is how a CLI command reaches a deployment.
type target struct {
	dir        string
	controller string
}

func (t *target) flags(fs *flag.FlagSet) {
	fs.StringVar(&t.dir, "dir", "tandem-data", "data `directory` of a deployment started by 'tandem up'")
	fs.StringVar(&t.controller, "controller", os.Getenv("TANDEM_CONTROLLER"), "controller `URL` of a remote deployment (env TANDEM_CONTROLLER; secret in TANDEM_SECRET)")
}

// client returns a controller client for the target.
func (t *target) client() (*control.Client, error) {
	url := t.controller
	secretFile := ""
	if url == "" {
		var cfg EdgeConfig
		path := filepath.Join(t.dir, "edge.yaml")
		if err := loadYAML(path, &cfg); err != nil {
			return nil, fmt.Errorf("no deployment found in %s (run 'tandem up' first, or give --controller): %w", t.dir, err)
		}
		url = "http://" + cfg.Listen
		secretFile = cfg.SecretFile
	}
	secret, err := readSecret(secretFile)
	if err != nil {
		return nil, err
	}
	return &control.Client{URL: url, Secret: secret}, nil
}

// connect returns a client for the target and a context that ends after
// timeout; the caller calls cancel.
func (t *target) connect(timeout time.Duration) (*control.Client, context.Context, context.CancelFunc, error) {
	return connectWith(t.client, timeout)
}

// connectWith returns the client that client makes and a context that ends
// after timeout.
func connectWith(client func() (*control.Client, error), timeout time.Duration) (*control.Client, context.Context, context.CancelFunc, error) {
	c, err := client()
	if err != nil {
		return nil, nil, nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	return c, ctx, cancel, nil
}

// parse parses args with flags allowed before, between and after the
// positional arguments, which fs.Args then returns.
func parse(fs *flag.FlagSet, args []string, usage string) error {
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usage)
		fs.PrintDefaults()
	}
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return err
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		positional = append(positional, args[0])
		args = args[1:]
	}
	return fs.Parse(append([]string{"--"}, positional...))
}

// runStatus is `tandem status`.
func runStatus(args []string) error {
	fs := flag.NewFlagSet("status", flag.ContinueOnError)
	var t target
	t.flags(fs)
	asJSON := fs.Bool("json", false, "print the status as JSON")
	checksums := fs.Bool("checksums", false, "compare every table's checksum across regions")
	if err := parse(fs, args, "Usage: tandem status [--json] [--checksums]\n\nShows the app id, state, writer, epoch, routing controls and, per region,\nhealth, applied and head LSN and replication lag.\n\n"); err != nil {
		return err
	}
	c, ctx, cancel, err := t.connect(10 * time.Second)
	if err != nil {
		return err
	}
	defer cancel()
	st, err := c.Status(ctx, *checksums)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(st)
	}
	printStatus(os.Stdout, st, *checksums)
	return nil
}

func printStatus(w io.Writer, st control.Status, checksums bool) {
	s := st.Snapshot
	fmt.Fprintf(w, "app id   %s\nstate    %s\nwriter   %s (epoch %d)\nrouting  %s\n\n", s.AppID, s.State, s.Writer, s.Epoch, routingSummary(s))
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "REGION\tROLE\tHEALTH\tLSN\tHEAD\tLAG\tLEASE\tBLOBS\tDETAIL")
	for _, r := range st.Regions {
		if r.Status == nil {
			fmt.Fprintf(tw, "%s\t?\tdown\t-\t-\t-\t-\t-\t%s\n", r.Name, r.Error)
			continue
		}
		rs := r.Status
		role, head, lag := "standby", rs.Replication.Head.LSN, fmt.Sprintf("%d (%.3fs)", rs.Replication.Lag.Entries, rs.Replication.Lag.Seconds)
		if rs.Writer {
			role, head, lag = "writer", rs.Position.LSN, "-"
		}
		health, detail := "ok", ""
		if !rs.Health.OK {
			health = "unhealthy"
			var bad []string
			for name, msg := range rs.Health.Checks {
				if msg != "ok" {
					bad = append(bad, name+": "+msg)
				}
			}
			sort.Strings(bad)
			detail = strings.Join(bad, "; ")
		}
		lease := "-"
		if rs.Lease.Held {
			lease = fmt.Sprintf("held (%dms left)", rs.Lease.ExpiresMs)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%s\t%s\t%s\t%s\n", r.Name, role, health, rs.Position.LSN, head, lag, lease, blobSummary(rs.Blobs), detail)
	}
	tw.Flush()
	printMonitoring(w, st)
	if checksums {
		fmt.Fprintln(w)
		fmt.Fprintln(w, convergence(st))
	}
}

func routingSummary(s tandem.Snapshot) string {
	var parts []string
	for _, r := range s.Regions {
		on := "off"
		if s.Routing[r.Name] {
			on = "on"
		}
		parts = append(parts, r.Name+"="+on)
	}
	return strings.Join(parts, " ")
}

// convergence says whether every region's tables have the same checksums.
func convergence(st control.Status) string {
	var first map[string]string
	for _, r := range st.Regions {
		if r.Status == nil {
			return "checksums: cannot compare, " + r.Name + " is down"
		}
		if first == nil {
			first = r.Status.Checksums
			continue
		}
		for table, sum := range first {
			if r.Status.Checksums[table] != sum {
				return fmt.Sprintf("checksums: table %s differs in %s (it may still be catching up)", table, r.Name)
			}
		}
	}
	return fmt.Sprintf("checksums: all %d tables equal in every region", len(first))
}

// runState is `tandem state get|set STATE`.
func runState(args []string) error {
	fs := flag.NewFlagSet("state", flag.ContinueOnError)
	var t target
	t.flags(fs)
	if err := parse(fs, args, "Usage: tandem state get\n       tandem state set active|fenced|failover\n\nReads or sets the application state. Fenced refuses every write. The failover\nstate comes with 'tandem failover'; by hand it is only restored from fenced\n(lifting a fence after a failover without re-arming automatic failover). No\nstate is set while a runbook runs.\n\n"); err != nil {
		return err
	}
	rest := fs.Args()
	if len(rest) == 0 || (rest[0] == "set" && len(rest) != 2) || (rest[0] != "set" && rest[0] != "get") {
		fs.Usage()
		return errUsage
	}
	c, ctx, cancel, err := t.connect(10 * time.Second)
	if err != nil {
		return err
	}
	defer cancel()
	var snap tandem.Snapshot
	if rest[0] == "get" {
		snap, err = c.Snapshot(ctx)
	} else {
		snap, err = c.SetState(ctx, rest[1])
	}
	if err != nil {
		return err
	}
	fmt.Printf("%s (writer %s, epoch %d)\n", snap.State, snap.Writer, snap.Epoch)
	return nil
}

// runRouting is `tandem routing set REGION on|off`.
func runRouting(args []string) error {
	fs := flag.NewFlagSet("routing", flag.ContinueOnError)
	var t target
	t.flags(fs)
	if err := parse(fs, args, "Usage: tandem routing set REGION on|off\n\nTurns a region's routing control on or off: the edge sends traffic only to\nregions whose control is on, the writer first.\n\n"); err != nil {
		return err
	}
	rest := fs.Args()
	if len(rest) != 3 || rest[0] != "set" || (rest[2] != "on" && rest[2] != "off") {
		fs.Usage()
		return errUsage
	}
	c, ctx, cancel, err := t.connect(10 * time.Second)
	if err != nil {
		return err
	}
	defer cancel()
	snap, err := c.SetRouting(ctx, rest[1], rest[2] == "on")
	if err != nil {
		return err
	}
	fmt.Printf("routing %s\n", routingSummary(snap))
	return nil
}
