package server

import (
	"sigs.k8s.io/controller-runtime/pkg/manager"

	"github.com/modeguard/modeguard/policy"
)

// Accessors for the external tests (package server_test), kept out of the
// package's API.

// Manager is the controller-runtime manager.
func (s *Server) Manager() manager.Manager { return s.mgr }

// Engine is the policy engine in force.
func (s *Server) Engine() *policy.Engine { return s.engine }
