"""Accounts, built on django-allauth: the project's adapter (audit of sign-ins, sign-up that
creates the tenant the person owns), the console's second-factor rule for staff, and invitations.

allauth does the work (forms, mails, rate limits, TOTP, WebAuthn, recovery codes, sessions); this
package only says what is particular to the platform."""
