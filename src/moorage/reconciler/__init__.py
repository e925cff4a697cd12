"""The reconciler: deadline queue, full reconcile passes, leader election."""
