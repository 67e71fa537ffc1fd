#!/bin/sh
# Create the namespace and register ValueGate's search attributes (idempotent).
set -eu
: "${TEMPORAL_ADDRESS:?}" "${NAMESPACE:=default}"
attempts=0
until temporal operator cluster health --address "$TEMPORAL_ADDRESS" | grep -q SERVING; do
  attempts=$((attempts + 1))
  [ "$attempts" -lt 60 ] || { echo "Temporal did not become healthy"; exit 1; }
  sleep 2
done
temporal operator namespace describe -n "$NAMESPACE" --address "$TEMPORAL_ADDRESS" >/dev/null 2>&1 ||
  temporal operator namespace create -n "$NAMESPACE" --address "$TEMPORAL_ADDRESS" --retention 365d
# Keep in step with workflows/search_attributes.py (a test checks).
for attribute in MeasureStage=Keyword PortfolioId=Int LegalEntityId=Int BusinessUnitId=Int \
                 ImplementationStatus=Keyword PotentialStatus=Keyword PendingApproverRoles=KeywordList; do
  temporal operator search-attribute create --namespace "$NAMESPACE" --address "$TEMPORAL_ADDRESS" \
    --name "${attribute%=*}" --type "${attribute#*=}" || echo "search attribute ${attribute%=*} exists"
done
echo "Namespace $NAMESPACE ready"
