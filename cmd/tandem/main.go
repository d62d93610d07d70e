// Command tandem runs an application in two regions, active/passive, and
// moves it between them.
package main

import (
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
)

const usage = `tandem runs one web application in two regions, active/passive, and moves it
between them in seconds without losing data.

Usage:
  tandem up [--dir DIR] [--port-base N]     run edge, controller and two regions on this machine
  tandem status [--json]                    show state, writer, epoch and each region's lag
  tandem state get|set STATE                read or set the application state (active, fenced, failover)
  tandem routing set REGION on|off          turn a region's routing control on or off
  tandem switchover [--to REGION]           planned move of the writer, no data loss
  tandem failover [--to REGION] [--force]   move the writer away from a dead or cut-off region
  tandem failback [--to REGION]             move the writer back once the old writer has rejoined
  tandem runbooks list|show ID              runbook executions with step timelines, RTO and RPO
  tandem autofailover pause|resume|status  whether the controller fails a dead writer over by itself
  tandem quarantine list|show|export|replay writes found on a rejoining region, never silently lost
  tandem users add|list|disable|reset       manage the users who sign in (add NAME --email E [--admin])
  tandem clients add|list                   manage OAuth2 clients (add NAME --scope api/upsert-delete)
  tandem token                              sign in as the admin 'up' created and print an access token
  tandem region --config FILE               run one region (real deployments)
  tandem edge --config FILE                 run the edge and the controller (real deployments)
  tandem bench [--rate N] [--duration D]    measure write latency and replication lag at a steady rate

Commands that talk to a deployment find it with --dir DIR (a directory 'tandem up'
made, default ./tandem-data) or --controller URL (or TANDEM_CONTROLLER) with the
cluster secret in TANDEM_SECRET. users, clients and token go through the edge
(--url URL or TANDEM_URL when it is not the controller's), with the cluster
secret or an admin's access token in TANDEM_TOKEN.

Run 'tandem COMMAND --help' for a command's flags.
`

var errUsage = errors.New("usage")

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	cmds := map[string]func([]string) error{
		"up":           runUp,
		"region":       runRegion,
		"edge":         runEdge,
		"status":       runStatus,
		"state":        runState,
		"routing":      runRouting,
		"switchover":   runSwitchover,
		"failover":     runFailover,
		"failback":     runFailback,
		"runbooks":     runRunbooks,
		"autofailover": runAutoFailover,
		"quarantine":   runQuarantine,
		"bench":        runBench,
		"users":        runUsers,
		"clients":      runClients,
		"token":        runToken,
	}
	name, args := os.Args[1], os.Args[2:]
	if name == "help" || name == "-h" || name == "--help" {
		fmt.Print(usage)
		return
	}
	cmd, ok := cmds[name]
	if !ok {
		fmt.Fprintf(os.Stderr, "tandem: unknown command %q\n\n%s", name, usage)
		os.Exit(2)
	}
	if err := cmd(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		if !errors.Is(err, errUsage) {
			fmt.Fprintf(os.Stderr, "tandem %s: %v\n", name, err)
		}
		os.Exit(1)
	}
}

// newLogger returns the logger components write to: JSON lines on stderr,
// or text when TANDEM_LOG=text.
func newLogger() *slog.Logger {
	if os.Getenv("TANDEM_LOG") == "text" {
		return slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	return slog.New(slog.NewJSONHandler(os.Stderr, nil))
}

// waitForSignal blocks until SIGINT or SIGTERM.
func waitForSignal() {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	<-ch
	signal.Stop(ch)
}
