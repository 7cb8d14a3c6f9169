/*
 * tests/fuzz/fuzz_contract.c
 *      The event contract's words for the codec targets' dictionaries (see fuzz_common.h).
 */
#include "codec_tables.h"
#include "fuzz_common.h"

void fuzz_dict_contract(FILE *f)
{
    for (int t = 0; t < cs__nevents; t++) {
        const cs__event_desc_t *ed = &cs__events[t];
        fprintf(f, "\"%s\"\n", ed->name);
        for (int i = 0; i < ed->nfields; i++) {
            fprintf(f, "\"%s\"\n", ed->fields[i].name);
            if (ed->fields[i].enm)
                for (int k = 0; k < ed->fields[i].enm->nsymbols; k++)
                    fprintf(f, "\"%s\"\n", ed->fields[i].enm->symbols[k]);
        }
    }
}
