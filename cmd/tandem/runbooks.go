package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/tandemhq/tandem/control"
)

// runSwitchover is `tandem switchover --to REGION`.
func runSwitchover(args []string) error {
	return startRunbook(args, control.KindSwitchover, "Usage: tandem switchover [--to REGION]\n\nPlanned move of the writer, with no data loss: fence writes, wait until the\ntarget has every entry, promote it in a new epoch, route traffic to it, make\nthe state active and prove a write works.\n\n")
}

// runFailover is `tandem failover --to REGION`.
func runFailover(args []string) error {
	return startRunbook(args, control.KindFailover, "Usage: tandem failover [--to REGION] [--force]\n\nUnplanned move of the writer when it is dead or cut off: revoke its lease in\na new epoch, wait out the lease, promote the target at what it has applied,\nroute traffic to it, set the state to failover, prove a write works and\nrecord the RPO estimate.\n\n")
}

// runFailback is `tandem failback`.
func runFailback(args []string) error {
	return startRunbook(args, control.KindFailback, "Usage: tandem failback [--to REGION]\n\nMove the writer back once the old writer has returned: wait until it has\nrejoined (its unreplicated writes are in the quarantine) and caught up, then\nswitch over to it and make the state active.\n\n")
}

func startRunbook(args []string, kind, usage string) error {
	fs := flag.NewFlagSet(kind, flag.ContinueOnError)
	var t target
	t.flags(fs)
	to := fs.String("to", "", "target `region` (default: the region that is not the writer)")
	force := fs.Bool("force", false, "go ahead even if the target looks unhealthy")
	timeout := fs.Duration("timeout", control.DefaultRunbookTimeout, "bound on each waiting step")
	noWait := fs.Bool("no-wait", false, "start the runbook and return without following it")
	if err := parse(fs, args, usage); err != nil {
		return err
	}
	if len(fs.Args()) > 0 {
		fs.Usage()
		return errUsage
	}
	c, err := t.client()
	if err != nil {
		return err
	}
	ctx := context.Background()
	rb, err := c.StartRunbook(ctx, control.RunbookRequest{Kind: kind, Target: *to, Force: *force, TimeoutMs: timeout.Milliseconds()})
	if err != nil {
		return err
	}
	fmt.Printf("%s %s: %s → %s\n", kind, rb.ID, rb.From, rb.Target)
	if *noWait {
		return nil
	}
	return follow(ctx, c, rb.ID, os.Stdout)
}

// follow prints a runbook's steps as they finish, until it ends.
func follow(ctx context.Context, c *control.Client, id string, w io.Writer) error {
	printed := 0
	for {
		rb, err := c.Runbook(ctx, id)
		if err != nil {
			return err
		}
		for ; printed < len(rb.Steps); printed++ {
			s := rb.Steps[printed]
			if s.Status == control.StatusPending || s.Status == control.StatusRunning {
				break
			}
			fmt.Fprintf(w, "  %-15s %-9s %6s  %s\n", s.Name, s.Status, s.Ended.Sub(s.Started).Round(time.Millisecond), s.Message)
		}
		if rb.Status != control.StatusRunning {
			fmt.Fprintln(w, summary(rb))
			if rb.Status == control.StatusFailed {
				return fmt.Errorf("runbook %s failed: %s", rb.ID, rb.Message)
			}
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func summary(rb control.Runbook) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s in %v", rb.Kind, rb.Status, rb.Ended.Sub(rb.Started).Round(time.Millisecond))
	if rb.RTOMs > 0 {
		fmt.Fprintf(&b, "; RTO %d ms", rb.RTOMs)
	}
	if rb.RPO != nil {
		fmt.Fprintf(&b, "; RPO estimate %d entries (%.3f s)", rb.RPO.Entries, rb.RPO.Seconds)
	}
	return b.String()
}

// runRunbooks is `tandem runbooks list|show ID`.
func runRunbooks(args []string) error {
	fs := flag.NewFlagSet("runbooks", flag.ContinueOnError)
	var t target
	t.flags(fs)
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parse(fs, args, "Usage: tandem runbooks list\n       tandem runbooks show ID\n\nLists runbook executions, or shows one with its step timeline, RTO and RPO.\n\n"); err != nil {
		return err
	}
	rest := fs.Args()
	if len(rest) == 0 || (rest[0] == "list" && len(rest) != 1) || (rest[0] == "show" && len(rest) != 2) || (rest[0] != "list" && rest[0] != "show") {
		fs.Usage()
		return errUsage
	}
	c, ctx, cancel, err := t.connect(10 * time.Second)
	if err != nil {
		return err
	}
	defer cancel()
	var v any
	if rest[0] == "list" {
		rbs, err := c.Runbooks(ctx)
		if err != nil {
			return err
		}
		v = rbs
		if !*asJSON {
			tw := tabwriter.NewWriter(os.Stdout, 2, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tKIND\tFROM\tTARGET\tSTATUS\tSTARTED\tRTO\tRPO")
			for _, rb := range rbs {
				rpo := "-"
				if rb.RPO != nil {
					rpo = fmt.Sprintf("%d entries", rb.RPO.Entries)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%dms\t%s\n", rb.ID, rb.Kind, rb.From, rb.Target, rb.Status, rb.Started.Format(time.RFC3339), rb.RTOMs, rpo)
			}
			return tw.Flush()
		}
	} else {
		rb, err := c.Runbook(ctx, rest[1])
		if err != nil {
			return err
		}
		v = rb
		if !*asJSON {
			fmt.Printf("%s %s: %s → %s, started %s\n", rb.Kind, rb.ID, rb.From, rb.Target, rb.Started.Format(time.RFC3339Nano))
			if rb.Automatic {
				fmt.Printf("  automatic: %s; detected %s, decided %s later\n", rb.Trigger, rb.DetectedAt.Format(time.RFC3339Nano), rb.DecidedAt.Sub(rb.DetectedAt).Round(time.Millisecond))
			}
			for _, s := range rb.Steps {
				fmt.Printf("  %-15s %-9s %6s  %s\n", s.Name, s.Status, s.Ended.Sub(s.Started).Round(time.Millisecond), s.Message)
			}
			if rb.Status == control.StatusRunning {
				fmt.Println("still running")
			} else {
				fmt.Println(summary(rb))
			}
			return nil
		}
	}
	return printJSON(v)
}
