package CvcTest;

# The helpers of the CVC gateway tests (core Perl only), in one import:
# every test says
#
#   use Test::More; use lib 't/lib'; use CvcTest;
#
# and gets what the modules below export (each opens with what it owns
# and how it is called). scripts/run-tests starts the stack and sets
# CVC_TEST_URL, CVC_TEST_DIR, CVC_OPS_TOKEN, CVC_PG_PORT, CVC_REDIS_PORT
# and CVC_ROOT.
#
#   Cvc::Stack     the stack: scripts/stack, psql, redis-cli, nginx's logs
#                  and worker, free ports
#   Cvc::Http      api(), ops(), api_as(), parallel(), wait_until(), and the
#                  checks of the error format
#   Cvc::Accounts  conventions, points of sale, beneficiaries, logins,
#                  passwords and codes, the secrets t/190 looks for
#   Cvc::Clock     the test clock, at(), UTC times and Paris dates
#   Cvc::Payments  payment requests, balances, the ledger's invariant and
#                  done_testing()
#   Cvc::Mail      the outbox and the e-mails the SMTP server kept
#
# Test::More comes first: CvcTest's done_testing (ledger_ok, then Test::
# More's) must be imported last to win.

use strict;
use warnings;
use Exporter 'import';
use Cvc::Stack;
use Cvc::Http;
use Cvc::Accounts;
use Cvc::Clock;
use Cvc::Payments;
use Cvc::Mail;

our @EXPORT = (@Cvc::Stack::EXPORT, @Cvc::Http::EXPORT,
               @Cvc::Accounts::EXPORT, @Cvc::Clock::EXPORT,
               @Cvc::Payments::EXPORT, @Cvc::Mail::EXPORT);

1;
