package main

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// RegionConfig is the YAML configuration of `tandem region`.
type RegionConfig struct {
	// Name is the region's name, such as us-east-1.
	Name string `yaml:"name"`
	// Listen is the address the region's HTTP API listens on.
	Listen string `yaml:"listen"`
	// URL is how the controller, the edge and peers reach the region.
	URL string `yaml:"url"`
	// DataDir holds the store (unless store.path says otherwise) and the
	// cached control snapshot.
	DataDir string `yaml:"data_dir"`
	// Controller is the controller's base URL.
	Controller string `yaml:"controller"`
	// SecretFile holds the cluster secret; TANDEM_SECRET overrides it.
	SecretFile string      `yaml:"secret_file"`
	Store      StoreConfig `yaml:"store"`
	Lease      LeaseConfig `yaml:"lease"`
}

// StoreConfig chooses and configures the region store.
type StoreConfig struct {
	Type        string `yaml:"type"` // sqlite
	Path        string `yaml:"path"`
	Synchronous string `yaml:"synchronous"` // FULL or NORMAL
}

// LeaseConfig tunes the writer lease.
type LeaseConfig struct {
	TTL    time.Duration `yaml:"ttl"`
	Safety time.Duration `yaml:"safety"`
}

// EdgeConfig is the YAML configuration of `tandem edge`.
type EdgeConfig struct {
	Listen     string `yaml:"listen"`
	SecretFile string `yaml:"secret_file"`
	// Controller runs the controller inside the edge, or names a separate
	// one by URL.
	Controller ControllerConfig `yaml:"controller"`
	// MaxBodyBytes bounds proxied request bodies.
	MaxBodyBytes int64 `yaml:"max_body_bytes"`
}

// ControllerConfig is the controller the edge uses.
type ControllerConfig struct {
	// URL of a separate controller; leave empty to embed one.
	URL string `yaml:"url"`
	// Path of the embedded controller's database.
	Path     string        `yaml:"path"`
	AppID    string        `yaml:"app_id"`
	Regions  []RegionRef   `yaml:"regions"`
	LeaseTTL time.Duration `yaml:"lease_ttl"`
}

// RegionRef names a region and its URL.
type RegionRef struct {
	Name string `yaml:"name"`
	URL  string `yaml:"url"`
}

// loadYAML reads a YAML file into v, refusing unknown keys.
func loadYAML(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

func writeYAML(path string, v any) error {
	b, err := yaml.Marshal(v)
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o600)
}

// Validate checks a region configuration and fills defaults.
func (c *RegionConfig) Validate() error {
	var missing []string
	for _, f := range []struct{ name, v string }{{"name", c.Name}, {"listen", c.Listen}, {"url", c.URL}, {"data_dir", c.DataDir}, {"controller", c.Controller}} {
		if f.v == "" {
			missing = append(missing, f.name)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("region config: missing %s", strings.Join(missing, ", "))
	}
	if c.Store.Type == "" {
		c.Store.Type = "sqlite"
	}
	if c.Store.Type != "sqlite" {
		return fmt.Errorf("region config: store.type %q is not supported; use sqlite", c.Store.Type)
	}
	return nil
}

// Validate checks an edge configuration.
func (c *EdgeConfig) Validate() error {
	if c.Listen == "" {
		return fmt.Errorf("edge config: missing listen")
	}
	cc := c.Controller
	if cc.URL == "" && (cc.Path == "" || cc.AppID == "" || len(cc.Regions) == 0) {
		return fmt.Errorf("edge config: controller needs a url, or path, app_id and regions to embed one")
	}
	return nil
}

// readSecret returns the cluster secret from TANDEM_SECRET or file.
func readSecret(file string) (string, error) {
	if s := os.Getenv("TANDEM_SECRET"); s != "" {
		return s, nil
	}
	if file == "" {
		return "", fmt.Errorf("no cluster secret: set TANDEM_SECRET or secret_file")
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("read cluster secret: %w", err)
	}
	s := strings.TrimSpace(string(b))
	if len(s) < 16 {
		return "", fmt.Errorf("cluster secret in %s is shorter than 16 characters", file)
	}
	return s, nil
}
