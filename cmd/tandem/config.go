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
	// Replication sets the durability of acknowledged writes.
	Replication ReplicationConfig `yaml:"replication"`
	Blobs       BlobsConfig       `yaml:"blobs,omitempty"`
	Auth        AuthConfig        `yaml:"auth"`
}

// AuthConfig configures a region's identity service.
type AuthConfig struct {
	// KeyFile holds the region's token-signing key (created on first start,
	// mode 0600, never replicated); default data_dir/signing-key.pem.
	KeyFile string `yaml:"key_file"`
	// AllowSignup lets anyone create an account at /api/auth/signup.
	AllowSignup bool `yaml:"allow_signup"`
	// TrustedProxies are the addresses (CIDR) whose X-Forwarded-For is
	// believed for sign-in throttling: the edge's. Default: loopback.
	TrustedProxies []string `yaml:"trusted_proxies"`
}

// StoreConfig chooses and configures the region store.
type StoreConfig struct {
	Type        string `yaml:"type"` // sqlite or postgres
	Path        string `yaml:"path"`
	Synchronous string `yaml:"synchronous"` // FULL or NORMAL
	// DSN locates the PostgreSQL database of type postgres.
	DSN string `yaml:"dsn,omitempty"`
}

// BlobsConfig chooses and configures the region's blob store (the photos'
// bytes) and their replication.
type BlobsConfig struct {
	Type string `yaml:"type,omitempty"` // fs (default) or s3
	// Dir is the fs store's directory; default data_dir/blobs.
	Dir string   `yaml:"dir,omitempty"`
	S3  S3Config `yaml:"s3,omitempty"`
	// MaxPhotoBytes bounds an uploaded photo; default 10 MiB.
	MaxPhotoBytes int64 `yaml:"max_photo_bytes,omitempty"`
	// Transfers is how many blobs a standby fetches at once; default 4.
	Transfers int `yaml:"transfers,omitempty"`
	// CleanupInterval is how often unreferenced blobs older than
	// OrphanGrace are removed; defaults 10m and 1h.
	CleanupInterval time.Duration `yaml:"cleanup_interval,omitempty"`
	OrphanGrace     time.Duration `yaml:"orphan_grace,omitempty"`
}

// S3Config is an S3-compatible blob store. The secret key is read from
// TANDEM_S3_SECRET_KEY or SecretKeyFile.
type S3Config struct {
	Endpoint      string `yaml:"endpoint,omitempty"` // host[:port], no scheme
	Bucket        string `yaml:"bucket,omitempty"`
	Region        string `yaml:"region,omitempty"`
	AccessKey     string `yaml:"access_key,omitempty"`
	SecretKeyFile string `yaml:"secret_key_file,omitempty"`
	Prefix        string `yaml:"prefix,omitempty"`
	UseSSL        bool   `yaml:"use_ssl,omitempty"`
}

// ReplicationConfig sets when a write is acknowledged.
type ReplicationConfig struct {
	// Mode is async (acknowledge at local commit; a failover may lose the
	// newest writes, which the quarantine keeps) or sync (acknowledge only
	// once the follower has durably applied the write).
	Mode string `yaml:"mode,omitempty"`
	// SyncTimeout bounds how long a sync write waits for the follower;
	// default 2s.
	SyncTimeout time.Duration `yaml:"sync_timeout,omitempty"`
	// OnSyncTimeout is block (refuse to acknowledge: 503) or async (fall
	// back to async until the follower catches up). Default block.
	OnSyncTimeout string `yaml:"on_sync_timeout,omitempty"`
	// MaxLag, if set, refuses writes while the follower has acknowledged
	// fewer than head minus MaxLag entries: a bound on the async RPO.
	MaxLag uint64 `yaml:"max_lag,omitempty"`
}

func (c *ReplicationConfig) validate() error {
	switch c.Mode {
	case "":
		c.Mode = "async"
	case "async", "sync":
	default:
		return fmt.Errorf("replication.mode %q: use async or sync", c.Mode)
	}
	switch c.OnSyncTimeout {
	case "":
		c.OnSyncTimeout = "block"
	case "block", "async":
	default:
		return fmt.Errorf("replication.on_sync_timeout %q: use block or async", c.OnSyncTimeout)
	}
	if c.SyncTimeout == 0 {
		c.SyncTimeout = 2 * time.Second
	}
	if c.SyncTimeout < 0 {
		return fmt.Errorf("replication.sync_timeout must be positive")
	}
	return nil
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

	// HealthInterval, HealthTimeout and HealthHistory: each region's deep
	// health is checked every interval (500ms), each check bounded by the
	// timeout (1s), the last HealthHistory (20) results kept.
	HealthInterval time.Duration `yaml:"health_interval,omitempty"`
	HealthTimeout  time.Duration `yaml:"health_timeout,omitempty"`
	HealthHistory  int           `yaml:"health_history,omitempty"`
	// UnhealthyThreshold failed checks of the writer in a row raise the
	// writer-unhealthy alarm (3).
	UnhealthyThreshold int `yaml:"unhealthy_threshold,omitempty"`
	// LagAlarmSeconds over LagAlarmFor raises the replication-lag alarm
	// (5 s for 10s); BlobPendingAlarm the blob-pending alarm (5m).
	LagAlarmSeconds  float64       `yaml:"lag_alarm_seconds,omitempty"`
	LagAlarmFor      time.Duration `yaml:"lag_alarm_for,omitempty"`
	BlobPendingAlarm time.Duration `yaml:"blob_pending_alarm,omitempty"`
	// ErrorRateAlarm (a fraction, 0.05) of the edge's requests answered
	// 5xx for ErrorRateFor (30s) raises the edge-errors alarm.
	ErrorRateAlarm float64       `yaml:"error_rate_alarm,omitempty"`
	ErrorRateFor   time.Duration `yaml:"error_rate_alarm_for,omitempty"`
	// AutoFailover lets the writer-unhealthy alarm run the failover
	// runbook, only to a healthy standby lacking at most
	// MaxAutoFailoverLag entries (1000), and not again within
	// AutoFailoverCooldown (5m).
	AutoFailover         bool          `yaml:"auto_failover"`
	MaxAutoFailoverLag   uint64        `yaml:"max_auto_failover_lag,omitempty"`
	AutoFailoverCooldown time.Duration `yaml:"auto_failover_cooldown,omitempty"`
	// AlarmWebhooks receive every alarm transition as a JSON POST, each
	// bounded by WebhookTimeout (2s).
	AlarmWebhooks  []string      `yaml:"alarm_webhooks,omitempty"`
	WebhookTimeout time.Duration `yaml:"webhook_timeout,omitempty"`
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
	if err := c.Store.validate(); err != nil {
		return fmt.Errorf("region config: %w", err)
	}
	if err := c.Blobs.validate(); err != nil {
		return fmt.Errorf("region config: %w", err)
	}
	if err := c.Replication.validate(); err != nil {
		return fmt.Errorf("region config: %w", err)
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
