package cachetagging_test

import (
	"context"
	"net/http/httptrace"
	"net/textproto"
	"sync/atomic"
)

// httptraceHints counts the informational responses a client receives.
func httptraceHints(n *atomic.Int32) context.Context {
	return httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{
		Got1xxResponse: func(code int, _ textproto.MIMEHeader) error {
			n.Add(1)
			return nil
		},
	})
}
