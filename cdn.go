package cachetagging

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// CDN describes the header a CDN reads a page's purge keys from. Use
// [Fastly] or [Cloudflare], or fill one in for another CDN.
type CDN struct {
	Header       string // header name, e.g. "Surrogate-Key"
	Separator    string // between keys, e.g. " "
	MaxKeyLen    int    // longest key the CDN accepts
	MaxHeaderLen int    // longest header value the CDN accepts
}

var (
	// Fastly reads space-separated keys of at most 1024 bytes from
	// Surrogate-Key, 16 KB in all.
	Fastly = CDN{Header: "Surrogate-Key", Separator: " ", MaxKeyLen: 1024, MaxHeaderLen: 16 << 10}
	// Cloudflare reads comma-separated tags from Cache-Tag, 16 KB in all.
	Cloudflare = CDN{Header: "Cache-Tag", Separator: ",", MaxKeyLen: 1024, MaxHeaderLen: 16 << 10}
)

// Key returns the key the CDN is given for tag: the tag itself when it is
// printable ASCII without spaces, commas or the separator and fits
// MaxKeyLen, else "h-" and 32 hex digits of its SHA-256. Purge the CDN with
// the same function, so both sides agree.
func (c CDN) Key(tag string) string {
	if len(tag) <= c.MaxKeyLen && cdnSafe(tag, c.Separator) {
		return tag
	}
	sum := sha256.Sum256([]byte(tag))
	return "h-" + hex.EncodeToString(sum[:16])
}

func cdnSafe(tag, sep string) bool {
	if tag == "" || strings.HasPrefix(tag, "h-") || (sep != "" && strings.Contains(tag, sep)) {
		return false
	}
	for i := 0; i < len(tag); i++ {
		if c := tag[i]; c <= ' ' || c >= 0x7f || c == ',' || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// value joins the keys of tags (sorted, as given) up to MaxHeaderLen. It
// reports whether keys had to be left out: the CDN then cannot be purged by
// those tags.
func (c CDN) value(tags []string) (string, bool) {
	var b strings.Builder
	for _, t := range tags {
		k := c.Key(t)
		n := len(k)
		if b.Len() > 0 {
			n += len(c.Separator)
		}
		if b.Len()+n > c.MaxHeaderLen {
			return b.String(), true
		}
		if b.Len() > 0 {
			b.WriteString(c.Separator)
		}
		b.WriteString(k)
	}
	return b.String(), false
}
