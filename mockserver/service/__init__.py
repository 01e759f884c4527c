"""The one door to the state (events.py: EventService): writes in journal order, waits
(waits.py) and the delayed visibility of a fault (visibility.py). Imports record/, state/ and
below; the HTTP layer imports it."""
