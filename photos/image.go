package photos

import (
	"bytes"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"
	"net/http"

	"golang.org/x/image/draw"
	"golang.org/x/image/webp"

	"github.com/tandemhq/tandem"
)

// Image limits. An upload's dimensions are read from its header and checked
// against them before its pixels are decoded, so a small file that claims a
// huge canvas (a decompression bomb) is refused without allocating it.
const (
	DefaultMaxPixels = 50_000_000
	DefaultMaxSide   = 20_000
)

// Thumbnails fit in ThumbWidth × ThumbMaxHeight pixels, keep the image's
// proportions, are never larger than the image, and are always JPEG (images
// with transparency are laid on white).
const (
	ThumbWidth       = 320
	ThumbMaxHeight   = 4 * ThumbWidth
	ThumbContentType = "image/jpeg"
	thumbQuality     = 82
)

// Limits bound the images accepted.
type Limits struct {
	MaxPixels int
	MaxSide   int
}

// DefaultLimits are the limits of a new Service.
var DefaultLimits = Limits{MaxPixels: DefaultMaxPixels, MaxSide: DefaultMaxSide}

// ImageInfo is what an image's header says about it.
type ImageInfo struct {
	ContentType string
	Width       int
	Height      int
}

// codec reads one image format.
type codec struct {
	config func(io.Reader) (image.Config, error)
	decode func(io.Reader) (image.Image, error)
}

// codecs are the accepted formats, by the content type that sniffing gives.
// Each format's own decoder is used, never the image package's registry, so
// the bytes are always read as the type they were sniffed as.
var codecs = map[string]codec{
	"image/jpeg": {jpeg.DecodeConfig, jpeg.Decode},
	"image/png":  {png.DecodeConfig, png.Decode},
	"image/gif":  {gif.DecodeConfig, gif.Decode}, // the first frame
	"image/webp": {webp.DecodeConfig, webp.Decode},
}

// ReadImageInfo sniffs data's type and reads its dimensions from its header,
// without decoding its pixels. Returns EUNSUPPORTED unless data is a JPEG,
// PNG, GIF or WebP image, EINVALID if its header is damaged, and ETOOLARGE
// if its dimensions exceed limits.
func ReadImageInfo(data []byte, limits Limits) (ImageInfo, error) {
	ct := http.DetectContentType(data)
	c, ok := codecs[ct]
	if !ok {
		return ImageInfo{}, tandem.Errorf(tandem.EUNSUPPORTED, "photos must be JPEG, PNG, GIF or WebP images; this is %s", ct)
	}
	cfg, err := c.config(bytes.NewReader(data))
	if err != nil {
		return ImageInfo{}, tandem.Errorf(tandem.EINVALID, "the %s image cannot be read: %v", ct, err)
	}
	w, h := cfg.Width, cfg.Height
	if w <= 0 || h <= 0 {
		return ImageInfo{}, tandem.Errorf(tandem.EINVALID, "the image has no pixels (%d×%d)", w, h)
	}
	// Each side is checked before the product, which therefore cannot
	// overflow.
	if w > limits.MaxSide || h > limits.MaxSide || w*h > limits.MaxPixels {
		return ImageInfo{}, tandem.Errorf(tandem.ETOOLARGE, "the image is %d×%d pixels; at most %d pixels a side and %d megapixels are accepted",
			w, h, limits.MaxSide, limits.MaxPixels/1_000_000)
	}
	return ImageInfo{ContentType: ct, Width: w, Height: h}, nil
}

// DecodeImage decodes data as the type info names (from ReadImageInfo). It
// returns EINVALID if the pixels are damaged or do not match the header.
func DecodeImage(data []byte, info ImageInfo) (image.Image, error) {
	img, err := codecs[info.ContentType].decode(bytes.NewReader(data))
	if err != nil {
		return nil, tandem.Errorf(tandem.EINVALID, "the %s image cannot be decoded: %v", info.ContentType, err)
	}
	if b := img.Bounds(); b.Dx() != info.Width || b.Dy() != info.Height {
		return nil, tandem.Errorf(tandem.EINVALID, "the image is %d×%d pixels but its header says %d×%d", b.Dx(), b.Dy(), info.Width, info.Height)
	}
	return img, nil
}

// ThumbSize returns the size of the thumbnail of a w×h image.
func ThumbSize(w, h int) (tw, th int) {
	tw, th = w, h
	if tw > ThumbWidth {
		tw, th = ThumbWidth, max(1, h*ThumbWidth/w)
	}
	if th > ThumbMaxHeight {
		tw, th = max(1, tw*ThumbMaxHeight/th), ThumbMaxHeight
	}
	return tw, th
}

// MakeThumbnail returns the JPEG thumbnail of img.
func MakeThumbnail(img image.Image) ([]byte, error) {
	b := img.Bounds()
	tw, th := ThumbSize(b.Dx(), b.Dy())
	dst := image.NewRGBA(image.Rect(0, 0, tw, th))
	draw.Draw(dst, dst.Bounds(), image.NewUniform(color.White), image.Point{}, draw.Src)
	draw.BiLinear.Scale(dst, dst.Bounds(), img, b, draw.Over, nil)
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, dst, &jpeg.Options{Quality: thumbQuality}); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
