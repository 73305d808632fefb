package auth

// CountHashes has f told of every password hash the service computes.
func (s *Service) CountHashes(f func()) { s.hash.Count = f }
