// Package layout holds the byte layouts tmplcache and its stores share: the
// logical clock, tag records and entries. Each is encoded and decoded here
// and nowhere else; the Redis store's Lua scripts read the same layouts
// and say so where they do.
//
// All integers are big-endian. Every decoder reports ok=false for bytes it
// cannot read instead of guessing: callers treat such a value as missing
// (an entry) or as invalidated (a tag record), never as valid.
package layout
