/* placeholder until the codec lands */
#include <stddef.h>
extern const int xoc_proto_version;
const int xoc_proto_version = 1;
