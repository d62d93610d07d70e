package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/tandemhq/tandem"
)

// runQuarantine is `tandem quarantine list|show ID|export|replay ID`. The
// requests go to the writer through the edge; listing works in any region.
func runQuarantine(args []string) error {
	fs := flag.NewFlagSet("quarantine", flag.ContinueOnError)
	var t target
	t.flags(fs)
	format := fs.String("format", "json", "export format (json)")
	if err := parse(fs, args, "Usage: tandem quarantine list\n       tandem quarantine show ID\n       tandem quarantine export [--format json]\n       tandem quarantine replay ID\n\nWrites a region acknowledged as writer but that never reached the writer\nthat replaced it are moved here when it rejoins. Replay applies one again as\na new write if its row has not changed since, and reports a conflict if it has.\n\n"); err != nil {
		return err
	}
	rest := fs.Args()
	want := map[string]int{"list": 1, "export": 1, "show": 2, "replay": 2}
	if len(rest) == 0 || want[rest[0]] != len(rest) {
		fs.Usage()
		return errUsage
	}
	if *format != "json" {
		return fmt.Errorf("unknown export format %q: json is the only one", *format)
	}
	c, ctx, cancel, err := t.connect(30 * time.Second)
	if err != nil {
		return err
	}
	defer cancel()
	switch rest[0] {
	case "list", "export":
		var out struct {
			Entries []tandem.QuarantinedEntry `json:"entries"`
		}
		if err := c.Do(ctx, http.MethodGet, "/api/admin/quarantine", nil, &out); err != nil {
			return err
		}
		if rest[0] == "export" {
			return printJSON(out)
		}
		tw := tabwriter.NewWriter(os.Stdout, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tREGION\tTABLE\tOP\tKEY\tCOMMITTED\tSTATUS")
		for _, e := range out.Entries {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.ID, e.Region, e.Change.Table, e.Change.Op, e.Change.Key, e.Change.CommitTime.Format(time.RFC3339Nano), e.Status)
		}
		tw.Flush()
		fmt.Printf("%d entries\n", len(out.Entries))
		return nil
	case "show":
		var e tandem.QuarantinedEntry
		if err := c.Do(ctx, http.MethodGet, "/api/admin/quarantine/"+url.PathEscape(rest[1]), nil, &e); err != nil {
			return err
		}
		return printJSON(e)
	default:
		var e tandem.QuarantinedEntry
		err := c.Do(ctx, http.MethodPost, "/api/admin/quarantine/"+url.PathEscape(rest[1])+"/replay", struct{}{}, &e)
		if err != nil {
			if strings.Contains(err.Error(), "changed since") {
				return fmt.Errorf("conflict: %w", err)
			}
			return err
		}
		fmt.Printf("%s replayed as a new write\n", e.ID)
		return nil
	}
}

func printJSON(v any) error {
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
