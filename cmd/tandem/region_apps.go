package main

import (
	"context"
	"net/http"
	"time"

	"github.com/tandemhq/tandem/control"
	"github.com/tandemhq/tandem/httpapi"
	"github.com/tandemhq/tandem/remittance"
	"github.com/tandemhq/tandem/todo"
)

// openApps migrates the relational reference applications (remittances and
// ToDos) in the region store and serves their APIs. The remittance API's
// execute-runbook goes to the controller, which runs runbooks, with the
// cluster secret: the region has already checked that the caller is an
// admin.
func (g *Region) openApps() error {
	ctx := context.Background()
	remittances := remittance.NewService(g.store)
	if err := remittances.Migrate(ctx); err != nil {
		return err
	}
	todos := todo.NewService(g.store)
	if err := todos.Migrate(ctx); err != nil {
		return err
	}
	g.api.Remittances, g.api.ToDos = remittances, todos
	client := &control.Client{URL: g.Config.Controller, Secret: g.Secret, HTTP: &http.Client{Timeout: 30 * time.Second}}
	g.api.StartRunbook = func(ctx context.Context, req httpapi.RunbookRequest) (any, error) {
		return client.StartRunbook(ctx, control.RunbookRequest{Kind: req.Kind, Target: req.Target, Force: req.Force})
	}
	return nil
}
