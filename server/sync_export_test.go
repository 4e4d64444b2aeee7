package server

// HoldCheckSlots takes every check slot of s, as pushes being checked
// would, and returns the function that gives them back.
func HoldCheckSlots(s *Service) (release func()) {
	n := cap(s.checking)
	for range n {
		s.checking <- struct{}{}
	}
	return func() {
		for range n {
			<-s.checking
		}
	}
}
