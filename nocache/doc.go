// Package nocache puts per-request holes into content that is cached as a
// whole: a template writes a marker where the hole goes ([Registry.Marker],
// the {{ nocache "name" args... }} function), the marker is stored with the
// cached content, and on every request [Registry.Expand] (or a streaming
// [Writer]) replaces it with the output of the Go function registered under
// that name ([Registry.Handle]), called with this request's live data.
//
// The package knows nothing of html/template or of caching: any engine that
// can write a string works (see the text/template example), and any cache
// can hold the output. Markers start with a NUL byte, which html/template
// never writes for escaped data, and are signed (HMAC-SHA256) with the
// registry's key, so neither escaped data nor forged bytes in trusted
// content can call a handler: a sequence that is not an authentic marker is
// plain text. The template arguments travel in the marker as JSON (integral
// numbers come back as int64, see [DecodeJSON]); no code or template source
// does.
package nocache
