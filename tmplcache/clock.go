package tmplcache

import "time"

// Clock tells the time. Tests inject a fake one with [WithClock] to play
// the clocks of two machines that disagree; [testing/synctest] works too.
type Clock interface {
	Now() time.Time
}

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }
