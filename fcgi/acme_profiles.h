/*
 * Which CA profiles ACME may offer (UPKI_RA_ACME_PROFILE and
 * UPKI_RA_ACME_PROFILES).  Whoever proves control of a name gets what ACME
 * offers, so never a CA's certificate (CA:TRUE, keyCertSign), never the
 * RA's own nor an admin's, and a client certificate (clientAuth, which
 * nginx accepts on the client API) only when UPKI_RA_ACME_CLIENT_AUTH says
 * so.  Checked when upki-ra starts; each failure logs one error line.
 */
#ifndef UPKI_ACME_PROFILES_H
#define UPKI_ACME_PROFILES_H

#include "config.h"

/* By name: ca, ra and admin.  0, or -1 after the error line. */
int acme_profiles_check_names(const struct config *cfg);
/* By the CA's definitions (get_profile).  A CA that does not answer is
 * logged as a warning and does not stop the start: 0, or -1 after the
 * error line. */
int acme_profiles_check_ca(const struct config *cfg);

#endif
