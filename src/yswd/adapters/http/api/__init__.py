"""The JSON API, one router per part of the contract: thin handlers that parse,
call one service and answer."""
