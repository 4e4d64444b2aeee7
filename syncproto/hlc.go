package syncproto

// HLC is a hybrid logical clock timestamp: a physical part in Unix
// milliseconds (the device's clock corrected by its learned server offset)
// and a logical counter that orders events within one millisecond or when
// the physical clock runs backwards.
type HLC struct {
	Wall    int64  `json:"t"`
	Logical uint32 `json:"l,omitempty"`
}

// Less orders timestamps: by Wall, then by Logical.
func (a HLC) Less(b HLC) bool {
	if a.Wall != b.Wall {
		return a.Wall < b.Wall
	}
	return a.Logical < b.Logical
}

// Clock issues hybrid logical clock timestamps. It never goes backwards,
// whatever the physical clock does. The zero value is ready; a Clock is not
// safe for concurrent use.
type Clock struct {
	last HLC
}

// Last returns the most recent timestamp issued or observed.
func (c *Clock) Last() HLC { return c.last }

// Now returns a timestamp for a local event at physical time phys (ms).
func (c *Clock) Now(phys int64) HLC {
	if phys > c.last.Wall {
		c.last = HLC{Wall: phys}
	} else {
		c.last.Logical++
	}
	return c.last
}

// Observe merges a timestamp received from elsewhere at physical time phys,
// so that every later Now is after it.
func (c *Clock) Observe(remote HLC, phys int64) {
	switch {
	case phys > c.last.Wall && phys > remote.Wall:
		c.last = HLC{Wall: phys}
	case remote.Wall > c.last.Wall:
		c.last = HLC{Wall: remote.Wall, Logical: remote.Logical + 1}
	case remote.Wall == c.last.Wall && remote.Logical >= c.last.Logical:
		c.last.Logical = remote.Logical + 1
	default:
		c.last.Logical++
	}
}

// Restore sets the clock to a previously persisted timestamp.
func (c *Clock) Restore(h HLC) {
	if c.last.Less(h) {
		c.last = h
	}
}

// ClockOffset estimates the server's clock minus the device's, in ms, from a
// device send time t0, the server's time ts and the device receive time t1
// (Cristian's algorithm: the server stamped ts roughly mid-flight).
func ClockOffset(t0, ts, t1 int64) int64 {
	return ts - t0 - (t1-t0)/2
}
