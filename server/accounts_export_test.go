package server

// WithVerifyHook returns cfg with f called after every password check;
// dummy reports a check against the dummy hash of an unknown username.
func WithVerifyHook(cfg Config, f func(dummy bool)) Config {
	cfg.verifyHook = f
	return cfg
}
