package marker

import "bytes"

// Handler receives what a [Scanner] finds, in stream order.
type Handler interface {
	// Text receives plain output. It must not retain p.
	Text(p []byte) error
	// Marker receives an authentic marker. It must not retain m's slices.
	Marker(m Marker) error
}

// Scanner splits an output stream into text and authentic markers. Writes
// may split a marker anywhere: the scanner holds back the bytes of a
// possible marker until it is complete. A well-formed marker that fails
// authentication is text: only its NUL is passed on as text and scanning
// resumes right after it, so a forged header can never swallow a genuine
// marker that follows.
type Scanner struct {
	// Authentic reports whether a well-formed marker is genuine.
	Authentic func(Marker) bool
	pending   []byte
}

// Write scans p. Text without a NUL byte goes straight to h.Text, unbuffered.
func (s *Scanner) Write(p []byte, h Handler) error {
	if len(s.pending) > 0 {
		s.pending = append(s.pending, p...)
		buf := s.pending
		s.pending = nil
		rest, err := s.scan(buf, h, false)
		if err == nil && len(rest) > 0 {
			s.pending = append(make([]byte, 0, len(rest)+64), rest...)
		}
		return err
	}
	rest, err := s.scan(p, h, false)
	if err == nil && len(rest) > 0 {
		s.pending = append(make([]byte, 0, len(rest)+64), rest...)
	}
	return err
}

// Flush ends the stream: bytes held back as a possible marker are text.
func (s *Scanner) Flush(h Handler) error {
	buf := s.pending
	s.pending = nil
	_, err := s.scan(buf, h, true)
	return err
}

// scan handles p and returns the unfinished tail to hold back (never at EOF).
func (s *Scanner) scan(p []byte, h Handler, eof bool) ([]byte, error) {
	for len(p) > 0 {
		i := bytes.IndexByte(p, 0)
		if i < 0 {
			return nil, h.Text(p)
		}
		if i > 0 {
			if err := h.Text(p[:i]); err != nil {
				return nil, err
			}
			p = p[i:]
		}
		m, st := parse(p)
		switch {
		case st == incomplete && !eof:
			return p, nil
		case st == complete && s.Authentic(m):
			if err := h.Marker(m); err != nil {
				return nil, err
			}
			p = p[len(m.Raw):]
		default: // not a marker, a forgery, or cut short by the end
			if err := h.Text(p[:1]); err != nil {
				return nil, err
			}
			p = p[1:]
		}
	}
	return nil, nil
}
