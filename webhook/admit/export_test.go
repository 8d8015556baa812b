package admit

// CreatePatch is createPatch, for the tests of package admit_test.
var CreatePatch = createPatch
