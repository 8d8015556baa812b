package admit

// PatchOf is patchOf, for the tests of package admit_test.
var PatchOf = patchOf
