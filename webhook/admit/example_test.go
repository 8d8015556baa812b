package admit_test

import (
	"flag"
	"fmt"

	"github.com/modeguard/modeguard/webhook/admit"
)

// The failure policy is a flag value; the result cache a bounded LRU.
func Example() {
	fp := admit.FailAllow
	fs := flag.NewFlagSet("webhook", flag.ContinueOnError)
	fs.Var(&fp, "failure-policy", "allow or deny")
	_ = fs.Parse([]string{"--failure-policy=deny"})
	fmt.Println(fp)

	c := admit.NewCache[string](2)
	c.Add("a", "1")
	c.Add("b", "2")
	c.Add("c", "3") // evicts a
	_, ok := c.Get("a")
	fmt.Println(c.Len(), ok)
	// Output:
	// deny
	// 2 false
}
