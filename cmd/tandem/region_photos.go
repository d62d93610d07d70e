package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tandemhq/tandem"
	blobfs "github.com/tandemhq/tandem/blob/fs"
	blobs3 "github.com/tandemhq/tandem/blob/s3"
	"github.com/tandemhq/tandem/photos"
	"github.com/tandemhq/tandem/replication"
)

// Defaults of the blobs section of a region's configuration.
const (
	DefaultBlobCleanupInterval = 10 * time.Minute
	DefaultBlobOrphanGrace     = time.Hour
)

// regionPhotos is a region's photo side: the blob store, the service that
// keeps photos in it and in the region store, and the fetcher that brings
// the blobs a region lacks.
type regionPhotos struct {
	svc     *photos.Service
	fs      *blobfs.Store // nil unless the blob store is a directory
	fetcher *replication.BlobFetcher
}

func (c *BlobsConfig) validate() error {
	switch c.Type {
	case "", "fs":
	case "s3":
		if c.S3.Endpoint == "" || c.S3.Bucket == "" {
			return fmt.Errorf("blobs.s3 needs an endpoint and a bucket")
		}
	default:
		return fmt.Errorf("blobs.type %q is not supported; use fs or s3", c.Type)
	}
	if c.MaxPhotoBytes < 0 || c.Transfers < 0 || c.CleanupInterval < 0 || c.OrphanGrace < 0 {
		return fmt.Errorf("blobs: limits and intervals cannot be negative")
	}
	return nil
}

// openPhotos opens the region's blob store and gives it to the photo
// service, serves the photo API and the region's blobs, and has the
// follower hand every applied batch to the blob fetcher.
func (g *Region) openPhotos(svc *photos.Service, reg prometheus.Registerer, log *slog.Logger) error {
	cfg := g.Config.Blobs
	blobs, err := g.openBlobStore()
	if err != nil {
		return err
	}
	svc.Blobs = blobs
	if cfg.MaxPhotoBytes > 0 {
		svc.MaxPhotoBytes = cfg.MaxPhotoBytes
	}
	g.photos.svc = svc
	g.photos.fetcher = &replication.BlobFetcher{
		Blobs: blobs, Source: g.blobSource, Secret: g.Secret, Referenced: svc.ReferencedBlobs,
		Transfers: cfg.Transfers, Logger: log, Metrics: replication.NewBlobMetrics(reg),
	}
	g.follower.Applied = g.photos.fetcher.Applied
	g.api.Photos, g.api.MaxPhotoBytes = svc, svc.MaxPhotoBytes
	g.api.Blobs = &replication.BlobServer{Blobs: blobs, Secret: g.Secret, Logger: log}
	return nil
}

// openBlobStore opens the blob store the configuration names.
func (g *Region) openBlobStore() (tandem.BlobStore, error) {
	cfg := g.Config.Blobs
	if cfg.Type == "s3" {
		secret, err := readS3Secret(cfg.S3.SecretKeyFile)
		if err != nil {
			return nil, err
		}
		c := cfg.S3
		s, err := blobs3.New(blobs3.Config{
			Endpoint: c.Endpoint, Bucket: c.Bucket, Region: c.Region,
			AccessKey: c.AccessKey, SecretKey: secret, Prefix: c.Prefix, UseSSL: c.UseSSL,
		})
		if err != nil {
			return nil, err
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := s.Init(ctx); err != nil {
			return nil, fmt.Errorf("open s3 blob store %s/%s: %w", c.Endpoint, c.Bucket, err)
		}
		return s, nil
	}
	dir := cfg.Dir
	if dir == "" {
		dir = filepath.Join(g.Config.DataDir, "blobs")
	}
	s := blobfs.New(dir)
	if err := s.Init(); err != nil {
		return nil, err
	}
	g.photos.fs = s
	return s, nil
}

// readS3Secret returns the S3 secret key from TANDEM_S3_SECRET_KEY or file.
func readS3Secret(file string) (string, error) {
	if s := os.Getenv("TANDEM_S3_SECRET_KEY"); s != "" {
		return s, nil
	}
	if file == "" {
		return "", nil // an endpoint that needs no credentials
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("read s3 secret key: %w", err)
	}
	return strings.TrimSpace(string(b)), nil
}

// blobSource returns the region to fetch missing blobs from: the writer,
// or a peer when this region is the writer (see tandem.Snapshot.BlobSource).
func (g *Region) blobSource() (string, bool) {
	r, ok := g.snapshot().BlobSource(g.Config.Name)
	return r.URL, ok
}

// runPhotos fetches missing blobs while the region follows a writer, and
// removes orphan blobs every cleanup interval, until ctx ends.
func (g *Region) runPhotos(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Go(func() { g.photos.fetcher.Run(ctx) })
	defer wg.Wait()
	interval := g.Config.Blobs.CleanupInterval
	if interval == 0 {
		interval = DefaultBlobCleanupInterval
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		g.cleanBlobs(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// cleanBlobs removes the temp files of uploads and transfers that never
// finished and the blobs that no photo references, once older than the
// orphan grace: an upload or transfer in progress is younger than that.
func (g *Region) cleanBlobs(ctx context.Context) {
	grace := g.Config.Blobs.OrphanGrace
	if grace == 0 {
		grace = DefaultBlobOrphanGrace
	}
	log := g.Logger.With("region", g.Config.Name)
	if g.photos.fs != nil {
		if n, err := g.photos.fs.CleanTemp(grace); err != nil {
			log.Warn("remove unfinished blob uploads", "err", err)
		} else if n > 0 {
			log.Info("removed unfinished blob uploads", "files", n)
		}
	}
	if n, err := g.photos.svc.SweepOrphans(ctx, grace); err != nil && ctx.Err() == nil {
		log.Warn("remove orphan blobs", "err", err)
	} else if n > 0 {
		log.Info("removed orphan blobs", "blobs", n)
	}
}

// blobStatus is the region's blob replication status.
func (g *Region) blobStatus() tandem.BlobStatus {
	return g.photos.fetcher.Status()
}
