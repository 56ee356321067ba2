/*  sim_schema — the XAPI classes the simulator serves, each with its full field list and
    field types, in one table (names and types from the XAPI data model).
    Types: s string, i int, f float, b bool, d datetime, r ref, e enum, S set, M map.          */
#ifndef SIM_SCHEMA_H
#define SIM_SCHEMA_H

#include <jansson.h>
#include <stdbool.h>

typedef struct {
    char name[64];
    char type;
    char def[32]; /* default for s/e/i/b when not the type's zero */
} sim_field_t;

typedef struct {
    int id;
    const char *name; /* API name: "VM", "host", "SR" */
    char lname[32];   /* lower-case name used in events: "vm" */
    int nfields;
    sim_field_t *fields;
} sim_class_t;

/*  Parses the table once (thread-safe after the first call from main).                       */
void sim_schema_init(void);
int sim_schema_count(void);
const sim_class_t *sim_schema_class(int id);
/*  Finds a class by API name, case-insensitively ("vm" and "VM" both find VM).               */
const sim_class_t *sim_schema_find(const char *name);
/*  Index of a field, or -1.                                                                  */
int sim_schema_field(const sim_class_t *c, const char *name);
/*  A new reference to the default value of a field.                                          */
json_t *sim_schema_default(const sim_field_t *f);

#define SIM_NULL_REF "OpaqueRef:NULL"
#define SIM_NULL_DATE "19700101T00:00:00Z"

#endif
