package main

import (
	"flag"
	"fmt"
)

// service is a long-running part of tandem that `tandem region` and
// `tandem edge` run until SIGINT or SIGTERM.
type service interface{ Close() error }

// validator is a configuration that checks itself and fills defaults.
type validator interface{ Validate() error }

// runComponent runs a component from the YAML configuration --config names:
// it loads and validates cfg, reads the cluster secret from the file
// secretFile returns (or TANDEM_SECRET), opens the component, and closes it
// at SIGINT or SIGTERM.
func runComponent(name, about string, args []string, cfg validator, secretFile func() string, open func(secret string) (service, error)) error {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	config := fs.String("config", "", name+" configuration `file` (YAML)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: tandem %s --config FILE\n\n%s\n\n", name, about)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *config == "" {
		fs.Usage()
		return errUsage
	}
	if err := loadYAML(*config, cfg); err != nil {
		return err
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	secret, err := readSecret(secretFile())
	if err != nil {
		return err
	}
	c, err := open(secret)
	if err != nil {
		return err
	}
	waitForSignal()
	newLogger().Info(name + " stopping")
	return c.Close()
}
